// relay/sqlite_store.cpp — opening the queue (files, lock, schema and its migrations,
// recovery) and the group commit of new messages: the batch's bodies are written into one
// new spool file and made durable (fdatasync), the spool directory is fsynced once, then
// one SQLite transaction inserts all the rows. A crash before the commit leaves only spool
// files without rows, which the next lone opener deletes.
#include "relay/sqlite_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "relay/sqlite_query.hpp"

namespace ringmail::relay {
namespace {

// user_version of the schema below; a queue written by a newer ringmail is refused, an
// older one is brought up to date (kMigrations).
constexpr int kSchemaVersion = 3;

// message.spool names the spool file that holds the body (its name is that number in hex,
// as ids are written), at body_offset; one file holds the bodies of a whole batch.
// message.status and recipient.status hold Status; message.pending/failed count the
// recipients that are queued/error, and message.next_attempt is the earliest next attempt
// of the queued ones (NULL when none), so the scheduler reads one row per message.
// message.route is MessageRoute::encode() of a smarthost of the message's own, or empty.
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
  next_attempt INTEGER,
  spool INTEGER NOT NULL,
  body_offset INTEGER NOT NULL,
  route TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS message_due ON message(next_attempt) WHERE status = 0;
CREATE INDEX IF NOT EXISTS message_status ON message(status, id);
CREATE INDEX IF NOT EXISTS message_spool ON message(spool) WHERE status <> 1;
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

// From each older schema to the next; kMigrations[v - 1] takes version v to v + 1.
constexpr const char* kMigrations[] = {
    // 1 -> 2: one spool file per batch instead of one per message; old bodies are in files
    // named after their message.
    "ALTER TABLE message ADD COLUMN spool INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE message ADD COLUMN body_offset INTEGER NOT NULL DEFAULT 0;"
    "UPDATE message SET spool = id;"
    "CREATE INDEX IF NOT EXISTS message_spool ON message(spool) WHERE status <> 1;",
    // 2 -> 3: a smarthost of the message's own (MessageRoute::encode; empty: the relay's).
    "ALTER TABLE message ADD COLUMN route TEXT NOT NULL DEFAULT '';",
};
static_assert(std::size(kMigrations) == kSchemaVersion - 1);

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
    "INSERT INTO message (id, priority, sender, size, created, status, recipients, pending, failed, next_attempt, "
    "spool, body_offset, route) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6, 0, ?7, ?8, ?9, ?10)",
    "INSERT INTO recipient (message, n, address, status, attempts, last_reply, next_attempt) "
    "VALUES (?1, ?2, ?3, 0, 0, '', ?4)",
    "SELECT status FROM message WHERE id = ?1",
    "SELECT status, priority, sender, size, created, route FROM message WHERE id = ?1",
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
    "SELECT spool, id FROM message WHERE status <> 1 ORDER BY spool",  // rows that need a body (1: sent)
    "SELECT max(id) FROM message",
    "SELECT spool, body_offset, size, status FROM message WHERE id = ?1",
    "SELECT 1 FROM message WHERE spool = ?1 AND status <> 1 LIMIT 1",  // the file is still needed
    "UPDATE message SET spool = ?2, body_offset = 0 WHERE id = ?1 AND spool = ?3",
    // Newer than ?3: a range of the primary key, so its cost is the new rows', not the queue's.
    "SELECT id, priority, created, next_attempt FROM message WHERE id > ?3 AND status = 0 AND next_attempt <= ?1 "
    "ORDER BY id LIMIT ?2",
    "SELECT status, priority, count(*) FROM message GROUP BY status, priority",
};
static_assert(std::size(kSql) == static_cast<std::size_t>(SqliteStore::Sql::Count));

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

void make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
        throw StoreOpenError("queue " + errno_text(path));
}

// Every byte of `iov` (which it consumes) at `offset`, IOV_MAX pieces a call, short
// writes resumed.
bool write_all(int fd, std::vector<iovec>& iov, std::uint64_t offset) noexcept {
    std::size_t i = 0;
    while (i < iov.size()) {
        const int n = static_cast<int>(std::min<std::size_t>(iov.size() - i, IOV_MAX));
        const ssize_t w = ::pwritev(fd, iov.data() + i, n, static_cast<off_t>(offset));
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        offset += static_cast<std::uint64_t>(w);
        auto left = static_cast<std::size_t>(w);
        while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
        if (left > 0) {
            iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
            iov[i].iov_len -= left;
        }
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
    if (append_fd_ >= 0) {  // let our append file go; deleted if no row needs it
        ::close(append_fd_);
        append_fd_ = -1;
        std::vector<std::uint64_t> spools{append_name_};
        append_name_ = 0;
        if (db_) release_spools(spools);
    }
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
        s->open_database(true);
        s->recover();
    } else if (errno == EWOULDBLOCK) {
        s->open_database(false);
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

void SqliteStore::open_database(bool alone) {
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
    const char* setup = options_.sync_every_commit
                            ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;"
                            : "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;";
    char* err = nullptr;
    if (sqlite3_exec(db_, setup, nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string e = err ? err : sqlite3_errmsg(db_);
        sqlite3_free(err);
        throw StoreOpenError("queue " + path + ": " + e);
    }
    const auto fail = [&](std::string e) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw StoreOpenError("queue " + path + ": " + e);
    };
    const auto run = [&](const std::string& sql) {
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            const std::string e = err ? err : sqlite3_errmsg(db_);
            sqlite3_free(err);
            fail(e);
        }
    };
    // The version is read under the write lock, so two openers never both migrate.
    run("BEGIN IMMEDIATE");
    int version = 0;
    {
        sqlite3_stmt* v = nullptr;
        if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &v, nullptr) != SQLITE_OK) fail(sqlite3_errmsg(db_));
        if (sqlite3_step(v) == SQLITE_ROW) version = sqlite3_column_int(v, 0);
        sqlite3_finalize(v);
    }
    if (version > kSchemaVersion)
        fail("schema version " + std::to_string(version) + " is newer than this ringmail's (" +
             std::to_string(kSchemaVersion) + ")");
    // An older schema is migrated only by a lone opener: a process of the older ringmail
    // that has the queue open would go on writing rows of the old shape.
    if (version > 0 && version < kSchemaVersion && !alone)
        fail("schema version " + std::to_string(version) + " is older than this ringmail's (" +
             std::to_string(kSchemaVersion) + ") and another process has the queue open; stop it to upgrade");
    if (version == 0) {
        run(kSchema);
    } else {
        for (int v = version; v < kSchemaVersion; ++v) run(kMigrations[v - 1]);
    }
    if (version < kSchemaVersion) run("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    run("COMMIT");
    for (std::size_t i = 0; i < stmts_.size(); ++i)
        if (sqlite3_prepare_v3(db_, kSql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmts_[i], nullptr) != SQLITE_OK)
            throw StoreOpenError("queue " + path + ": " + sqlite3_errmsg(db_) + " in: " + kSql[i]);
}

// Spool files and rows must match. A file that no row needs is a batch that crashed before
// its commit, or whose messages were all delivered or removed before a crash let us delete
// it: garbage. A row whose file is missing is damage from outside (a deleted file, a
// restore of the database alone): reported, never guessed at.
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
    std::vector<std::pair<std::uint64_t, std::uint64_t>> rows;  // (spool file, id) by file
    {
        Query q(stmt(Sql::AllIds));
        int rc;
        while ((rc = q.step()) == SQLITE_ROW)
            rows.emplace_back(static_cast<std::uint64_t>(q.int64(0)), static_cast<std::uint64_t>(q.int64(1)));
        if (rc != SQLITE_DONE) throw StoreOpenError("queue " + options_.dir + ": " + sqlite3_errmsg(db_));
    }
    std::size_t i = 0, j = 0;
    bool removed = false;
    while (i < files.size() || j < rows.size()) {
        if (j == rows.size() || (i < files.size() && files[i] < rows[j].first)) {
            if (::unlinkat(spool_fd_, MessageId{files[i]}.text().c_str(), 0) == 0) {
                ++recovery_.orphans_removed;
                removed = true;
            }
            ++i;
        } else if (i == files.size() || rows[j].first < files[i]) {
            recovery_.missing_bodies.push_back(MessageId{rows[j].second});
            ++j;
        } else {  // the file and every row it holds
            for (const std::uint64_t f = files[i++]; j < rows.size() && rows[j].first == f;) ++j;
        }
    }
    std::sort(recovery_.missing_bodies.begin(), recovery_.missing_bodies.end());
    if (removed) ::fsync(spool_fd_);
    Query q(stmt(Sql::MaxId));
    if (q.step() == SQLITE_ROW) last_id_ = std::max(last_id_, static_cast<std::uint64_t>(q.int64(0)));
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
// this process. Ids of messages are taken inside the write transaction, above the largest
// id in the table, so no two processes give the same one; spool file names come from the
// same counter and are kept apart by O_EXCL.
MessageId SqliteStore::next_id() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    const auto ms = static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
    last_id_ = std::max(last_id_ + 1, (ms & ((std::uint64_t(1) << 43) - 1)) << MessageId::kCounterBits);
    return MessageId{last_id_};
}

// A new, empty spool file under a fresh name. A name another process took meanwhile
// (EEXIST) is skipped; bounded, because each try moves past it.
StoreResult SqliteStore::create_spool_file(std::uint64_t& name, int& fd) {
    for (int tries = 0; tries < 1000; ++tries) {
        name = next_id().value;
        const std::string text = MessageId{name}.text();
        fd = ::openat(spool_fd_, text.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) return {};
        if (errno != EEXIST) return {StoreError::Io, errno_text(options_.dir + "/spool/" + text)};
    }
    return {StoreError::Io, "no free name in " + options_.dir + "/spool"};
}

// The caller's file moved in under a fresh name, without a copy; `fd` reads it.
StoreResult SqliteStore::move_into_spool(const std::string& path, std::uint64_t& name, int& fd) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {StoreError::Io, errno_text(path)};
    for (int tries = 0; tries < 1000; ++tries) {
        name = next_id().value;
        if (::renameat2(AT_FDCWD, path.c_str(), spool_fd_, MessageId{name}.text().c_str(), RENAME_NOREPLACE) == 0)
            return {};
        if (errno != EEXIST) break;
    }
    StoreResult r{StoreError::Io, errno == EEXIST ? "no free name in " + options_.dir + "/spool"
                                                  : errno_text("moving " + path + " into the spool")};
    ::close(fd);
    fd = -1;
    return r;
}

// A new spool file to append to, locked shared while we append (release_spools() never
// deletes a file another store still appends to). The old one is let go: it is deleted
// if no row needs it any more.
StoreResult SqliteStore::start_spool_file() {
    const std::uint64_t old = append_name_;
    if (append_fd_ >= 0) ::close(append_fd_);
    append_fd_ = -1;
    append_name_ = append_end_ = 0;
    if (old != 0) {
        std::vector<std::uint64_t> spools{old};
        release_spools(spools);
    }
    std::uint64_t name = 0;
    int fd = -1;
    if (StoreResult r = create_spool_file(name, fd); !r) return r;
    if (::flock(fd, LOCK_SH) != 0) {  // unlocked, another store could delete it under us
        StoreResult r{StoreError::Io, errno_text("flock " + options_.dir + "/spool/" + MessageId{name}.text())};
        ::close(fd);
        unlink_spool(name);
        return r;
    }
    append_fd_ = fd;
    append_name_ = name;
    return {};
}

// Bodies given as bytes go one after another at the end of the spool file this store
// appends to: one write and one fdatasync for the batch, and no new directory entry, so
// no directory fsync, except when a new file is started (none yet, or the next batch
// would take it past kSpoolFileSize). Body files are moved in and synced one by one.
// `files` gets every file made, so that a failure can take them back; `end` is where the
// append file ends once the batch is committed.
StoreResult SqliteStore::write_bodies(std::span<const NewMessage> batch, std::vector<Placement>& places,
                                      std::vector<std::uint64_t>& files, std::uint64_t& end) {
    std::uint64_t bytes = 0;
    bool appending = false, new_names = false;
    for (const NewMessage& m : batch)
        if (m.body_file.empty()) bytes += m.body.size(), appending = true;
    if (appending && (append_fd_ < 0 || (append_end_ > 0 && append_end_ + bytes > kSpoolFileSize))) {
        if (StoreResult r = start_spool_file(); !r) return r;
        files.push_back(append_name_);
        new_names = true;
    }
    end = append_end_;
    std::vector<iovec> iov;
    places.resize(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const NewMessage& m = batch[i];
        if (!m.body_file.empty()) continue;
        places[i] = {append_name_, end, m.body.size()};
        end += m.body.size();
        if (!m.body.empty()) iov.push_back({const_cast<char*>(m.body.data()), m.body.size()});
    }
    if (appending && (!write_all(append_fd_, iov, append_end_) || ::fdatasync(append_fd_) != 0))
        return {StoreError::Io, errno_text(options_.dir + "/spool/" + MessageId{append_name_}.text())};
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const NewMessage& m = batch[i];
        if (m.body_file.empty()) continue;
        std::uint64_t name = 0;
        int fd = -1;
        if (StoreResult r = move_into_spool(m.body_file, name, fd); !r) return r;
        files.push_back(name);
        new_names = true;
        struct stat st{};
        const bool ok = ::fstat(fd, &st) == 0 && ::fdatasync(fd) == 0;
        const int e = errno;
        ::close(fd);
        errno = e;
        if (!ok) return {StoreError::Io, errno_text(options_.dir + "/spool/" + MessageId{name}.text())};
        places[i] = {name, 0, static_cast<std::uint64_t>(st.st_size)};
        if (options_.max_message_size && places[i].size > options_.max_message_size)
            return {StoreError::TooBig, too_big(places[i].size, options_.max_message_size)};
    }
    if (new_names && ::fsync(spool_fd_) != 0) return {StoreError::Io, errno_text(options_.dir + "/spool")};
    return {};
}

// Inside the write transaction: ids above every id in the table (another process may have
// added some since ours), then the rows.
StoreResult SqliteStore::insert_rows(std::span<const NewMessage> batch, Time now, const std::vector<Placement>& places,
                                     std::vector<MessageId>& ids) {
    {
        Query q(stmt(Sql::MaxId));
        if (q.step() != SQLITE_ROW) return db_error("reading the largest message id");
        last_id_ = std::max(last_id_, static_cast<std::uint64_t>(q.int64(0)));
    }
    ids.clear();
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const NewMessage& m = batch[i];
        const MessageId id = next_id();
        ids.push_back(id);
        const Time due = m.not_before ? std::max(*m.not_before, now) : now;
        {
            const std::string route = m.route ? m.route->encode() : std::string();  // bound, not copied
            Query q(stmt(Sql::InsertMessage));
            q.bind(1, static_cast<std::int64_t>(id.value))
                .bind(2, static_cast<std::int64_t>(m.priority))
                .bind(3, m.sender)
                .bind(4, static_cast<std::int64_t>(places[i].size))
                .bind(5, now)
                .bind(6, static_cast<std::int64_t>(m.recipients.size()))
                .bind(7, due)
                .bind(8, static_cast<std::int64_t>(places[i].spool))
                .bind(9, static_cast<std::int64_t>(places[i].offset))
                .bind(10, route);
            if (q.step() != SQLITE_DONE) return db_error("queueing " + id.text());
        }
        for (std::size_t n = 0; n < m.recipients.size(); ++n) {
            Query q(stmt(Sql::InsertRecipient));
            q.bind(1, static_cast<std::int64_t>(id.value))
                .bind(2, static_cast<std::int64_t>(n))
                .bind(3, m.recipients[n])
                .bind(4, due);
            if (q.step() != SQLITE_DONE) return db_error("queueing a recipient of " + id.text());
        }
    }
    return {};
}

void SqliteStore::unlink_spool(std::uint64_t name) noexcept {
    ::unlinkat(spool_fd_, MessageId{name}.text().c_str(), 0);
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
        if (m.route && (m.route->host.empty() || m.route->port == 0))
            return {StoreError::BadInput, "a message's smarthost needs a host and a port"};
        if (options_.max_message_size && m.body.size() > options_.max_message_size)
            return {StoreError::TooBig, too_big(m.body.size(), options_.max_message_size)};
    }
    if (batch.empty()) return {};
    std::vector<Placement> places;
    std::vector<std::uint64_t> files;
    std::uint64_t end = 0;
    StoreResult r = write_bodies(batch, places, files, end);
    // New messages are always synced (a 250 or a bounce depends on them); the WAL is one
    // sequence, so this also makes every earlier unsynced commit durable.
    if (!options_.sync_every_commit) sqlite3_exec(db_, "PRAGMA synchronous = FULL", nullptr, nullptr, nullptr);
    if (r) r = transact([&] { return insert_rows(batch, now, places, ids); });
    if (!options_.sync_every_commit) sqlite3_exec(db_, "PRAGMA synchronous = NORMAL", nullptr, nullptr, nullptr);
    if (r) {
        append_end_ = end;
        return r;
    }
    // No row was committed: the files made are garbage, and bytes written past the append
    // file's end are written over by the next batch.
    for (const std::uint64_t f : files) {
        if (f == append_name_) {
            ::close(append_fd_);
            append_fd_ = -1;
            append_name_ = append_end_ = 0;
        }
        unlink_spool(f);
    }
    ids.clear();
    return r;
}

}  // namespace ringmail::relay
