// relay/sqlite_store.hpp — the embedded queue store: SQLite in WAL mode holds the metadata
// (messages, recipients, attempts) in queue_dir/queue.db; bodies are in spool files,
// queue_dir/spool/NAME: the bodies of many batches appended to one file (a file per
// message made ext4 create an inode per message, 70 % of the enqueue time, and a file per
// batch costs a directory fsync per batch) and a file for each body a caller moved in. Bodies never go into SQLite (issue 14: 20 KiB bodies in SQLite cap near 9k
// inserts/s). A spool file goes when no row needs it (every message in it delivered or
// removed).
// Invariant: a row exists only for a body already on stable storage.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "relay/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace ringmail::relay {

// Opening failed (unreadable directory, not a queue database, a newer schema): one line.
struct StoreOpenError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct SqliteStoreOptions {
    std::string dir = "queue";
    bool create = true;                   // make `dir` when missing; false: a missing dir is an error
    std::uint64_t max_message_size = 0;   // bodies over it are refused (TooBig); 0 = no limit
    int busy_timeout_ms = 10000;          // how long to wait for another process's write
    // false: every commit but enqueue's is left to the next synced one or the checkpoint
    // (WAL, synchronous = NORMAL). For a delivery engine's results: a power loss may forget
    // the latest, and those deliveries are made again; a crash of the process loses none.
    bool sync_every_commit = true;
};

// What opening found. The check runs only when no other process has the queue open (a
// server, the command line): another opener may have body files whose rows it has not
// committed yet, and those are not garbage.
struct Recovery {
    bool ran = false;
    std::size_t orphans_removed = 0;          // body files without a row (a crash before commit)
    std::vector<MessageId> missing_bodies;    // rows without a body file: an error to report
};

class SqliteStore final : public Store {
public:
    // Throws StoreOpenError.
    static std::unique_ptr<SqliteStore> open(const SqliteStoreOptions& options);
    ~SqliteStore() override;
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    const Recovery& recovery() const noexcept { return recovery_; }
    // Transactions committed by this store so far (a group commit is one).
    std::uint64_t commits() const noexcept { return commits_; }

    StoreResult enqueue(std::span<const NewMessage> batch, Time now, std::vector<MessageId>& ids) override;
    std::string temp_dir() const override;
    StoreResult status(MessageId id, Status& out) override;
    StoreResult show(MessageId id, MessageInfo& out) override;
    StoreResult list(const ListQuery& q, std::vector<MessageSummary>& out) override;
    StoreResult remove(MessageId id) override;
    StoreResult retry(MessageId id, Time now) override;
    StoreResult retry_all(Time now, std::size_t& messages) override;
    StoreResult flush(Time now, std::size_t& messages) override;
    StoreResult schedule(Time due_by, std::size_t limit, std::vector<ScheduleEntry>& out) override;
    StoreResult schedule_after(MessageId after, Time due_by, std::size_t limit,
                               std::vector<ScheduleEntry>& out) override;
    StoreResult next_due(std::optional<Time>& out) override;
    StoreResult record(std::span<const AttemptResult> results) override;
    StoreResult open_body(MessageId id, Body& out) override;
    StoreResult depth(std::vector<DepthRow>& out) override;

    // The prepared statements, each compiled once at open (sqlite_store.cpp has the SQL).
    enum class Sql : std::uint8_t {
        Begin, Commit, Rollback,
        InsertMessage, InsertRecipient, Status, Message, Recipients, ListAll, ListByStatus,
        DeleteRecipients, DeleteMessage, RequeueRecipients, RequeueAllRecipients, Refresh,
        RefreshUnsent, FlushRecipients, FlushMessages, Schedule, NextDue, RecordRecipient, AllIds,
        MaxId, BodyPlace, SpoolNeeded, MoveBody, ScheduleNew, Depth,
        Count
    };

private:
    explicit SqliteStore(const SqliteStoreOptions& options);
    void open_files();
    void open_database(bool alone);
    void recover();
    sqlite3_stmt* stmt(Sql q) const noexcept { return stmts_[static_cast<std::size_t>(q)]; }
    StoreResult db_error(std::string_view what) const;
    StoreResult exec(Sql q);
    // BEGIN IMMEDIATE, `body`, then COMMIT, or ROLLBACK when `body` or the commit fails.
    StoreResult transact(const std::function<StoreResult()>& body);
    // Where a body went: `size` octets at `offset` of spool file `spool`.
    struct Placement {
        std::uint64_t spool = 0, offset = 0, size = 0;
    };
    StoreResult create_spool_file(std::uint64_t& name, int& fd);
    StoreResult move_into_spool(const std::string& path, std::uint64_t& name, int& fd);
    StoreResult start_spool_file();
    StoreResult write_bodies(std::span<const NewMessage> batch, std::vector<Placement>& places,
                             std::vector<std::uint64_t>& files, std::uint64_t& end);
    StoreResult insert_rows(std::span<const NewMessage> batch, Time now, const std::vector<Placement>& places,
                            std::vector<MessageId>& ids);
    // Deletes the spool files of `spools` that no row needs any more (after a commit).
    void release_spools(std::vector<std::uint64_t>& spools) noexcept;
    void unlink_spool(std::uint64_t name) noexcept;
    StoreResult detach_body(MessageId id, std::uint64_t spool, std::uint64_t offset, std::uint64_t size);
    bool sync_wal() noexcept;
    MessageId next_id() noexcept;

    SqliteStoreOptions options_;
    int lock_fd_ = -1;   // flock: shared while open; exclusive only for recover()
    int spool_fd_ = -1;  // queue_dir/spool, for openat and the directory fsync
    // The spool file new bodies are appended to (flock shared while it is), and its
    // committed length; a new one is started past kSpoolFileSize, so at most that much of
    // delivered bodies waits on disk for the file to be let go.
    static constexpr std::uint64_t kSpoolFileSize = 16 << 20;
    int append_fd_ = -1;
    std::uint64_t append_name_ = 0, append_end_ = 0;
    sqlite3* db_ = nullptr;
    std::array<sqlite3_stmt*, static_cast<std::size_t>(Sql::Count)> stmts_{};
    std::uint64_t last_id_ = 0;
    std::uint64_t commits_ = 0;
    Recovery recovery_;
};

}  // namespace ringmail::relay
