// relay/sqlite_store.cpp — opening the queue (files, lock, schema, recovery) and the group
// commit of new messages: every body file is written and made durable (fdatasync for one,
// one syncfs for a batch), then the spool directory is fsynced once, then one SQLite
// transaction inserts all the rows. A crash before the commit leaves
// only body files without rows, which the next lone opener deletes.
#include "relay/sqlite_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "relay/sqlite_query.hpp"

namespace ringmail::relay {
namespace {

// user_version of the schema below; a queue written by a newer ringmail is refused.
constexpr int kSchemaVersion = 1;

// message.status and recipient.status hold Status; message.pending/failed count the
// recipients that are queued/error, and message.next_attempt is the earliest next attempt
// of the queued ones (NULL when none), so the scheduler reads one row per message.
constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS message (
  id INTEGER PRIMARY KEY,
  priority INTEGER NOT NULL,
  sender TEXT NOT NULL,
  size INTEGER NOT NULL,
  created INTEGER NOT NULL,
  status INTEGER NOT NULL,
  recipients INTEGER NOT NULL,
  pending INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  next_attempt INTEGER
);
CREATE INDEX IF NOT EXISTS message_due ON message(next_attempt) WHERE status = 0;
CREATE INDEX IF NOT EXISTS message_status ON message(status, id);
CREATE TABLE IF NOT EXISTS recipient (
  message INTEGER NOT NULL,
  n INTEGER NOT NULL,
  address TEXT NOT NULL,
  status INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  last_reply TEXT NOT NULL,
  next_attempt INTEGER,
  PRIMARY KEY (message, n)
) WITHOUT ROWID;
)";

// The message's status, counts and next attempt again from its recipients (one of them
// changed). The subquery's names are the recipient's.
#define RINGMAIL_REFRESH_FROM_RECIPIENTS(where)                                                     \
    "UPDATE message SET (status, pending, failed, next_attempt) = "                                  \
    "(SELECT CASE WHEN sum(r.status = 0) > 0 THEN 0 WHEN sum(r.status = 2) > 0 THEN 2 ELSE 1 END, " \
    "sum(r.status = 0), sum(r.status = 2), min(CASE WHEN r.status = 0 THEN r.next_attempt END) "    \
    "FROM recipient r WHERE r.message = message.id) WHERE " where

// Indexed by SqliteStore::Sql.
constexpr const char* kSql[] = {
    "BEGIN IMMEDIATE",  // take the write lock now, so the busy timeout applies to it
    "COMMIT",
    "ROLLBACK",
    "INSERT INTO message (id, priority, sender, size, created, status, recipients, pending, failed, next_attempt) "
    "VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6, 0, ?7)",
    "INSERT INTO recipient (message, n, address, status, attempts, last_reply, next_attempt) "
    "VALUES (?1, ?2, ?3, 0, 0, '', ?4)",
    "SELECT status FROM message WHERE id = ?1",
    "SELECT status, priority, sender, size, created FROM message WHERE id = ?1",
    "SELECT address, status, attempts, last_reply, next_attempt FROM recipient WHERE message = ?1 ORDER BY n",
    "SELECT id, status, priority, sender, size, created, recipients, pending, next_attempt FROM message "
    "WHERE id > ?1 ORDER BY id LIMIT ?2",
    "SELECT id, status, priority, sender, size, created, recipients, pending, next_attempt FROM message "
    "WHERE status = ?3 AND id > ?1 ORDER BY id LIMIT ?2",
    "DELETE FROM recipient WHERE message = ?1",
    "DELETE FROM message WHERE id = ?1",
    "UPDATE recipient SET status = 0, next_attempt = ?2 WHERE message = ?1 AND status <> 1",
    "UPDATE recipient SET status = 0, next_attempt = ?1 WHERE status <> 1",
    RINGMAIL_REFRESH_FROM_RECIPIENTS("id = ?1"),
    RINGMAIL_REFRESH_FROM_RECIPIENTS("status <> 1"),
    "UPDATE recipient SET next_attempt = ?1 WHERE status = 0 AND next_attempt > ?1",
    "UPDATE message SET next_attempt = ?1 WHERE status = 0 AND next_attempt > ?1",
    "SELECT id, priority, created, next_attempt FROM message WHERE status = 0 AND next_attempt <= ?1 "
    "ORDER BY priority, created, id LIMIT ?2",
    "SELECT min(next_attempt) FROM message WHERE status = 0",
    "UPDATE recipient SET status = ?3, attempts = attempts + 1, last_reply = ?4, next_attempt = ?5 "
    "WHERE message = ?1 AND n = ?2 AND status = 0",
    "SELECT id FROM message WHERE status <> 1 ORDER BY id",  // rows that need a body (1: sent)
};
static_assert(std::size(kSql) == static_cast<std::size_t>(SqliteStore::Sql::Count));

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

void make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
        throw StoreOpenError("queue " + errno_text(path));
}

bool write_all(int fd, const char* p, std::size_t n) noexcept {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

// An address goes into SMTP commands later: no line breaks or NULs may ride along.
bool clean_address(std::string_view a) noexcept {
    return a.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos && a.size() <= 1024;
}

std::string too_big(std::uint64_t size, std::uint64_t max) {
    return "message of " + std::to_string(size) + " octets is over max_message_size (" + std::to_string(max) + ")";
}

}  // namespace

SqliteStore::SqliteStore(const SqliteStoreOptions& options) : options_(options) {}

SqliteStore::~SqliteStore() {
    for (sqlite3_stmt* s : stmts_) sqlite3_finalize(s);
    if (db_) sqlite3_close_v2(db_);
    if (spool_fd_ >= 0) ::close(spool_fd_);
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::unique_ptr<SqliteStore> SqliteStore::open(const SqliteStoreOptions& options) {
    std::unique_ptr<SqliteStore> s(new SqliteStore(options));
    s->open_files();
    // Alone with the queue (nobody holds the shared lock): check spool against rows, then
    // share. Otherwise wait for a shared lock, which waits out another opener's check.
    if (::flock(s->lock_fd_, LOCK_EX | LOCK_NB) == 0) {
        s->open_database();
        s->recover();
    } else if (errno == EWOULDBLOCK) {
        s->open_database();
    } else {
        throw StoreOpenError("queue " + errno_text(options.dir + "/lock"));
    }
    while (::flock(s->lock_fd_, LOCK_SH) != 0)
        if (errno != EINTR) throw StoreOpenError("queue " + errno_text(options.dir + "/lock"));
    return s;
}

void SqliteStore::open_files() {
    const std::string& dir = options_.dir;
    struct stat st{};
    if (!options_.create && ::stat(dir.c_str(), &st) != 0)
        throw StoreOpenError("no queue at " + dir + " (" + std::strerror(errno) + ")");
    make_dir(dir);
    make_dir(dir + "/spool");
    make_dir(dir + "/tmp");
    lock_fd_ = ::open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) throw StoreOpenError("queue " + errno_text(dir + "/lock"));
    spool_fd_ = ::open((dir + "/spool").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (spool_fd_ < 0) throw StoreOpenError("queue " + errno_text(dir + "/spool"));
}

void SqliteStore::open_database() {
    const std::string path = options_.dir + "/queue.db";
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK)
        throw StoreOpenError("queue " + path + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
    // Another process (a server, the command line) may be writing: wait for it rather than fail.
    sqlite3_busy_timeout(db_, options_.busy_timeout_ms);
    sqlite3_commit_hook(db_, [](void* n) { ++*static_cast<std::uint64_t*>(n); return 0; }, &commits_);
    // WAL: readers never block the writer nor the writer them, so `ringmail queue list`
    // works while a server commits. synchronous = FULL: in WAL mode NORMAL syncs the WAL
    // only at checkpoints, so a commit could roll back at a power loss after we answered
    // 250; FULL syncs the WAL at every commit, and the group commit pays it once a batch.
    const char* setup =
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;";
    char* err = nullptr;
    if (sqlite3_exec(db_, setup, nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string e = err ? err : sqlite3_errmsg(db_);
        sqlite3_free(err);
        throw StoreOpenError("queue " + path + ": " + e);
    }
    int version = 0;
    {
        sqlite3_stmt* v = nullptr;
        if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &v, nullptr) != SQLITE_OK)
            throw StoreOpenError("queue " + path + ": " + sqlite3_errmsg(db_));
        if (sqlite3_step(v) == SQLITE_ROW) version = sqlite3_column_int(v, 0);
        sqlite3_finalize(v);
    }
    if (version > kSchemaVersion)
        throw StoreOpenError("queue " + path + ": schema version " + std::to_string(version) +
                             " is newer than this ringmail's (" + std::to_string(kSchemaVersion) + ")");
    if (version < kSchemaVersion) {
        const std::string create = std::string("BEGIN IMMEDIATE;") + kSchema + "PRAGMA user_version = " +
                                   std::to_string(kSchemaVersion) + "; COMMIT;";
        if (sqlite3_exec(db_, create.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            const std::string e = err ? err : sqlite3_errmsg(db_);
            sqlite3_free(err);
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            throw StoreOpenError("queue " + path + ": " + e);
        }
    }
    for (std::size_t i = 0; i < stmts_.size(); ++i)
        if (sqlite3_prepare_v3(db_, kSql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmts_[i], nullptr) != SQLITE_OK)
            throw StoreOpenError("queue " + path + ": " + sqlite3_errmsg(db_) + " in: " + kSql[i]);
}

// Body files and rows must match. A file without a row is a batch that crashed before its
// commit (or a removal after its commit): garbage. A row without a file is damage from
// outside (a deleted file, a restore of the database alone): reported, never guessed at.
void SqliteStore::recover() {
    recovery_.ran = true;
    std::vector<std::uint64_t> files;
    const auto scan = [&](const std::string& path, bool spool) {
        DIR* d = ::opendir(path.c_str());
        if (!d) throw StoreOpenError("queue " + errno_text(path));
        while (const dirent* e = ::readdir(d)) {
            const std::string_view name = e->d_name;
            if (name == "." || name == "..") continue;
            const auto id = MessageId::parse(name);
            if (spool && id) {
                files.push_back(id->value);
            } else if (!spool) {  // tmp/: bodies of callers that never enqueued them
                if (::unlinkat(::dirfd(d), e->d_name, 0) == 0) ++recovery_.orphans_removed;
            }
            // Other names in spool/ are not ours: left alone.
        }
        ::closedir(d);
    };
    scan(options_.dir + "/spool", true);
    scan(options_.dir + "/tmp", false);
    std::sort(files.begin(), files.end());
    std::vector<std::uint64_t> rows;
    {
        Query q(stmt(Sql::AllIds));
        int rc;
        while ((rc = q.step()) == SQLITE_ROW) rows.push_back(static_cast<std::uint64_t>(q.int64(0)));
        if (rc != SQLITE_DONE) throw StoreOpenError("queue " + options_.dir + ": " + sqlite3_errmsg(db_));
    }
    std::size_t i = 0, j = 0;
    bool removed = false;
    while (i < files.size() || j < rows.size()) {
        if (j == rows.size() || (i < files.size() && files[i] < rows[j])) {
            if (::unlinkat(spool_fd_, MessageId{files[i]}.text().c_str(), 0) == 0) {
                ++recovery_.orphans_removed;
                removed = true;
            }
            ++i;
        } else if (i == files.size() || rows[j] < files[i]) {
            recovery_.missing_bodies.push_back(MessageId{rows[j]});
            ++j;
        } else {
            ++i;
            ++j;
        }
    }
    if (removed) ::fsync(spool_fd_);
    if (!rows.empty()) last_id_ = std::max(last_id_, rows.back());
}

std::string SqliteStore::temp_dir() const { return options_.dir + "/tmp"; }

StoreResult SqliteStore::db_error(std::string_view what) const {
    return {StoreError::Database, std::string(what) + ": " + sqlite3_errmsg(db_)};
}

StoreResult SqliteStore::exec(Sql q) {
    Query s(stmt(q));
    if (s.step() != SQLITE_DONE) return db_error(kSql[static_cast<std::size_t>(q)]);
    return {};
}

// Milliseconds since the epoch in the high bits and a counter below, never repeating in
// this process; another process's ids are kept apart by O_EXCL on the body file.
MessageId SqliteStore::next_id() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    const auto ms = static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
    last_id_ = std::max(last_id_ + 1, (ms & ((std::uint64_t(1) << 43) - 1)) << MessageId::kCounterBits);
    return MessageId{last_id_};
}

// Creates the body file under a fresh id: written from `m.body`, or the caller's file moved
// in without a copy. An id another process took meanwhile (EEXIST) is skipped; bounded,
// because each try moves past it. Returns the open file in `fd`.
StoreResult SqliteStore::place_body(const NewMessage& m, MessageId& id, int& fd) {
    int src = -1;
    if (!m.body_file.empty()) {
        src = ::open(m.body_file.c_str(), O_RDONLY | O_CLOEXEC);
        if (src < 0) return {StoreError::Io, errno_text(m.body_file)};
    }
    for (int tries = 0; tries < 1000; ++tries) {
        id = next_id();
        const std::string name = id.text();
        if (src < 0) {
            fd = ::openat(spool_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd >= 0) return {};
            if (errno != EEXIST) return {StoreError::Io, errno_text(options_.dir + "/spool/" + name)};
        } else {
            if (::renameat2(AT_FDCWD, m.body_file.c_str(), spool_fd_, name.c_str(), RENAME_NOREPLACE) == 0) {
                fd = src;
                return {};
            }
            if (errno != EEXIST) {
                StoreResult r{StoreError::Io, errno_text("moving " + m.body_file + " into the spool")};
                ::close(src);
                return r;
            }
        }
    }
    if (src >= 0) ::close(src);
    return {StoreError::Io, "no free message id in " + options_.dir + "/spool"};
}

StoreResult SqliteStore::write_bodies(std::span<const NewMessage> batch, std::vector<MessageId>& ids,
                                      std::vector<std::uint64_t>& sizes) {
    for (const NewMessage& m : batch) {
        MessageId id;
        int fd = -1;
        if (StoreResult r = place_body(m, id, fd); !r) return r;
        ids.push_back(id);
        std::uint64_t size = m.body.size();
        bool ok = true;
        if (m.body_file.empty()) {
            ok = write_all(fd, m.body.data(), m.body.size());
        } else {
            struct stat st{};
            ok = ::fstat(fd, &st) == 0;
            size = static_cast<std::uint64_t>(st.st_size);
        }
        // fdatasync also writes the size, which reading the file back needs; the name is
        // made durable by the fsync of the directory after the whole batch.
        if (batch.size() == 1) ok = ok && ::fdatasync(fd) == 0;
        const int e = errno;
        ::close(fd);
        sizes.push_back(size);
        if (!ok) {
            errno = e;
            return {StoreError::Io, errno_text(options_.dir + "/spool/" + id.text())};
        }
        if (options_.max_message_size && size > options_.max_message_size)
            return {StoreError::TooBig, too_big(size, options_.max_message_size)};
    }
    // A batch of more: one syncfs() instead of a fdatasync() per file. On ext4 each
    // fdatasync of a new file is a journal commit and a cache flush of its own (about 6 ms
    // here: 1,000 bodies took 6 s); syncfs writes every file and commits the journal once.
    // XXX: syncfs also waits for other writers on the same file system; a queue_dir on a
    // file system of its own keeps that cost ours alone. Linux >= 5.8 reports its errors.
    if (batch.size() > 1 && ::syncfs(spool_fd_) != 0)
        return {StoreError::Io, errno_text("syncfs " + options_.dir + "/spool")};
    if (::fsync(spool_fd_) != 0) return {StoreError::Io, errno_text(options_.dir + "/spool")};
    return {};
}

StoreResult SqliteStore::insert_rows(std::span<const NewMessage> batch, Time now, const std::vector<MessageId>& ids,
                                     const std::vector<std::uint64_t>& sizes) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const NewMessage& m = batch[i];
        const Time due = m.not_before ? std::max(*m.not_before, now) : now;
        {
            Query q(stmt(Sql::InsertMessage));
            q.bind(1, static_cast<std::int64_t>(ids[i].value))
                .bind(2, static_cast<std::int64_t>(m.priority))
                .bind(3, m.sender)
                .bind(4, static_cast<std::int64_t>(sizes[i]))
                .bind(5, now)
                .bind(6, static_cast<std::int64_t>(m.recipients.size()))
                .bind(7, due);
            if (q.step() != SQLITE_DONE) return db_error("queueing " + ids[i].text());
        }
        for (std::size_t n = 0; n < m.recipients.size(); ++n) {
            Query q(stmt(Sql::InsertRecipient));
            q.bind(1, static_cast<std::int64_t>(ids[i].value))
                .bind(2, static_cast<std::int64_t>(n))
                .bind(3, m.recipients[n])
                .bind(4, due);
            if (q.step() != SQLITE_DONE) return db_error("queueing a recipient of " + ids[i].text());
        }
    }
    return {};
}

void SqliteStore::unlink_bodies(const std::vector<MessageId>& ids) noexcept {
    for (const MessageId id : ids) ::unlinkat(spool_fd_, id.text().c_str(), 0);
}

StoreResult SqliteStore::enqueue(std::span<const NewMessage> batch, Time now, std::vector<MessageId>& ids) {
    ids.clear();
    for (const NewMessage& m : batch) {
        if (m.recipients.empty()) return {StoreError::BadInput, "a message needs at least one recipient"};
        if (!m.body_file.empty() && !m.body.empty())
            return {StoreError::BadInput, "a message has either a body or a body file, not both"};
        if (!clean_address(m.sender)) return {StoreError::BadInput, "bad sender address"};
        for (const auto& r : m.recipients)
            if (r.empty() || !clean_address(r)) return {StoreError::BadInput, "bad recipient address"};
        if (options_.max_message_size && m.body.size() > options_.max_message_size)
            return {StoreError::TooBig, too_big(m.body.size(), options_.max_message_size)};
    }
    if (batch.empty()) return {};
    std::vector<std::uint64_t> sizes;
    sizes.reserve(batch.size());
    ids.reserve(batch.size());
    StoreResult r = write_bodies(batch, ids, sizes);
    if (r && !(r = exec(Sql::Begin))) {
        // nothing to roll back
    } else if (r) {
        r = insert_rows(batch, now, ids, sizes);
        if (r) r = exec(Sql::Commit);
        if (!r) exec(Sql::Rollback);
    }
    if (!r) {
        unlink_bodies(ids);  // rows never committed: the files are garbage already
        ids.clear();
    }
    return r;
}

}  // namespace ringmail::relay
