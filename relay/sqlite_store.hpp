// relay/sqlite_store.hpp — the embedded queue store: SQLite in WAL mode holds the metadata
// (messages, recipients, attempts) in queue_dir/queue.db; each body is its own file,
// queue_dir/spool/ID. Bodies never go into SQLite (issue 14: 20 KiB bodies in SQLite cap
// near 9k inserts/s; metadata-only group commits reach 25-45k/s).
// Invariant: a row exists only for a body file already on stable storage.
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
    StoreResult next_due(std::optional<Time>& out) override;
    StoreResult record(std::span<const AttemptResult> results) override;
    StoreResult open_body(MessageId id, Body& out) override;

    // The prepared statements, each compiled once at open (sqlite_store.cpp has the SQL).
    enum class Sql : std::uint8_t {
        Begin, Commit, Rollback,
        InsertMessage, InsertRecipient, Status, Message, Recipients, ListAll, ListByStatus,
        DeleteRecipients, DeleteMessage, RequeueRecipients, RequeueAllRecipients, Refresh,
        RefreshUnsent, FlushRecipients, FlushMessages, Schedule, NextDue, RecordRecipient, AllIds,
        Count
    };

private:
    explicit SqliteStore(const SqliteStoreOptions& options);
    void open_files();
    void open_database();
    void recover();
    sqlite3_stmt* stmt(Sql q) const noexcept { return stmts_[static_cast<std::size_t>(q)]; }
    StoreResult db_error(std::string_view what) const;
    StoreResult exec(Sql q);
    // BEGIN IMMEDIATE, `body`, then COMMIT, or ROLLBACK when `body` or the commit fails.
    StoreResult transact(const std::function<StoreResult()>& body);
    StoreResult place_body(const NewMessage& m, MessageId& id, int& fd);
    StoreResult write_bodies(std::span<const NewMessage> batch, std::vector<MessageId>& ids,
                             std::vector<std::uint64_t>& sizes);
    StoreResult insert_rows(std::span<const NewMessage> batch, Time now, const std::vector<MessageId>& ids,
                            const std::vector<std::uint64_t>& sizes);
    void unlink_bodies(const std::vector<MessageId>& ids) noexcept;
    MessageId next_id() noexcept;

    SqliteStoreOptions options_;
    int lock_fd_ = -1;   // flock: shared while open; exclusive only for recover()
    int spool_fd_ = -1;  // queue_dir/spool, for openat and the directory fsync
    sqlite3* db_ = nullptr;
    std::array<sqlite3_stmt*, static_cast<std::size_t>(Sql::Count)> stmts_{};
    std::uint64_t last_id_ = 0;
    std::uint64_t commits_ = 0;
    Recovery recovery_;
};

}  // namespace ringmail::relay
