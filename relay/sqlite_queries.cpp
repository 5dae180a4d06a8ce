// relay/sqlite_queries.cpp — the SQLite store's reads and state changes after enqueue:
// show, list, remove, retry, flush, the due schedule and attempt results. Every change is
// one BEGIN IMMEDIATE transaction that also brings the message row (status, pending,
// next_attempt) in line with its recipients, so a reader never sees them disagree.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "relay/sqlite_query.hpp"
#include "relay/sqlite_store.hpp"

namespace ringmail::relay {
namespace {

StoreResult not_found(MessageId id) { return {StoreError::NotFound, "no message " + id.text() + " in the queue"}; }

std::int64_t as_sql(MessageId id) noexcept { return static_cast<std::int64_t>(id.value); }

std::int64_t as_sql_limit(std::size_t limit) noexcept {
    return static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX));
}

}  // namespace

StoreResult SqliteStore::transact(const std::function<StoreResult()>& body) {
    if (StoreResult r = exec(Sql::Begin); !r) return r;
    StoreResult r = body();
    if (r) r = exec(Sql::Commit);
    if (!r) exec(Sql::Rollback);  // fails harmlessly when the failed COMMIT already rolled back
    return r;
}

StoreResult SqliteStore::status(MessageId id, Status& out) {
    Query q(stmt(Sql::Status));
    q.bind(1, as_sql(id));
    const int rc = q.step();
    if (rc == SQLITE_DONE) return not_found(id);
    if (rc != SQLITE_ROW) return db_error("reading " + id.text());
    out = static_cast<Status>(q.int64(0));
    return {};
}

StoreResult SqliteStore::show(MessageId id, MessageInfo& out) {
    // Both reads in one read transaction, so a concurrent record() cannot slip in between.
    if (sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) return db_error("reading " + id.text());
    const auto read = [&]() -> StoreResult {
        {
            Query q(stmt(Sql::Message));
            q.bind(1, as_sql(id));
            const int rc = q.step();
            if (rc == SQLITE_DONE) return not_found(id);
            if (rc != SQLITE_ROW) return db_error("reading " + id.text());
            out.id = id;
            out.status = static_cast<Status>(q.int64(0));
            out.priority = static_cast<Priority>(q.int64(1));
            out.sender = q.text(2);
            out.size = static_cast<std::uint64_t>(q.int64(3));
            out.created = q.int64(4);
            out.route.reset();
            if (const std::string route = q.text(5); !route.empty()) {
                out.route = MessageRoute::decode(route);
                if (!out.route) return db_error("reading " + id.text() + ": its smarthost is unreadable");
            }
        }
        out.recipients.clear();
        Query q(stmt(Sql::Recipients));
        q.bind(1, as_sql(id));
        int rc;
        while ((rc = q.step()) == SQLITE_ROW) {
            RecipientInfo r;
            r.address = q.text(0);
            r.status = static_cast<Status>(q.int64(1));
            r.attempts = static_cast<std::uint32_t>(q.int64(2));
            r.last_reply = q.text(3);
            r.next_attempt = q.maybe_int64(4);
            out.recipients.push_back(std::move(r));
        }
        if (rc != SQLITE_DONE) return db_error("reading the recipients of " + id.text());
        return {};
    };
    StoreResult r = read();
    sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    return r;
}

StoreResult SqliteStore::list(const ListQuery& lq, std::vector<MessageSummary>& out) {
    out.clear();
    Query q(stmt(lq.status ? Sql::ListByStatus : Sql::ListAll));
    q.bind(1, as_sql(lq.after)).bind(2, as_sql_limit(lq.limit));
    if (lq.status) q.bind(3, static_cast<std::int64_t>(*lq.status));
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        MessageSummary m;
        m.id = MessageId{static_cast<std::uint64_t>(q.int64(0))};
        m.status = static_cast<Status>(q.int64(1));
        m.priority = static_cast<Priority>(q.int64(2));
        m.sender = q.text(3);
        m.size = static_cast<std::uint64_t>(q.int64(4));
        m.created = q.int64(5);
        m.recipients = static_cast<std::uint32_t>(q.int64(6));
        m.pending = static_cast<std::uint32_t>(q.int64(7));
        m.next_attempt = q.maybe_int64(8);
        out.push_back(std::move(m));
    }
    if (rc != SQLITE_DONE) return db_error("listing the queue");
    return {};
}

// Rows first, body after the commit: a crash in between leaves a spool file no row needs,
// which the next lone open deletes; the other order could leave a row without its body.
StoreResult SqliteStore::remove(MessageId id) {
    std::vector<std::uint64_t> spools;
    StoreResult r = transact([&]() -> StoreResult {
        spools.clear();
        {
            Query q(stmt(Sql::BodyPlace));
            q.bind(1, as_sql(id));
            if (q.step() == SQLITE_ROW) spools.push_back(static_cast<std::uint64_t>(q.int64(0)));
        }
        {
            Query q(stmt(Sql::DeleteMessage));
            q.bind(1, as_sql(id));
            if (q.step() != SQLITE_DONE) return db_error("removing " + id.text());
            if (q.changes() == 0) return not_found(id);
        }
        Query q(stmt(Sql::DeleteRecipients));
        q.bind(1, as_sql(id));
        if (q.step() != SQLITE_DONE) return db_error("removing " + id.text());
        return {};
    });
    if (r) release_spools(spools);
    return r;
}

// A spool file holds the bodies of a batch; it goes when no row needs it any more (each of
// its messages delivered to every recipient, or removed). Checked after the commit that
// changed them; a crash before the unlink leaves a file that recovery removes.
void SqliteStore::release_spools(std::vector<std::uint64_t>& spools) noexcept {
    std::sort(spools.begin(), spools.end());
    spools.erase(std::unique(spools.begin(), spools.end()), spools.end());
    bool synced = false;
    for (const std::uint64_t f : spools) {
        if (f == append_name_) continue;  // we still append to it
        // Another store may still append to it (a server's writer while its delivery
        // engine records results): it holds a shared lock until it lets the file go, after
        // its last commit. So the lock first, then the rows: rows it committed are seen.
        const int fd = ::openat(spool_fd_, MessageId{f}.text().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
            Query q(stmt(Sql::SpoolNeeded));
            q.bind(1, static_cast<std::int64_t>(f));
            // No row needs it. Results that let it go may sit unsynced in the WAL (the
            // delivery engine's commits): were they lost at a power loss, their messages
            // would be due again without a body, so the WAL is synced first, once.
            if (q.step() == SQLITE_DONE && (synced || (synced = sync_wal()))) unlink_spool(f);
        }
        ::close(fd);
    }
}

StoreResult SqliteStore::retry(MessageId id, Time now) {
    return transact([&]() -> StoreResult {
        {
            Query q(stmt(Sql::Status));
            q.bind(1, as_sql(id));
            const int rc = q.step();
            if (rc == SQLITE_DONE) return not_found(id);
            if (rc != SQLITE_ROW) return db_error("reading " + id.text());
        }
        {
            Query q(stmt(Sql::RequeueRecipients));
            q.bind(1, as_sql(id)).bind(2, now);
            if (q.step() != SQLITE_DONE) return db_error("retrying " + id.text());
        }
        Query q(stmt(Sql::Refresh));
        q.bind(1, as_sql(id));
        if (q.step() != SQLITE_DONE) return db_error("retrying " + id.text());
        return {};
    });
}

StoreResult SqliteStore::retry_all(Time now, std::size_t& messages) {
    messages = 0;
    return transact([&]() -> StoreResult {
        {
            Query q(stmt(Sql::RequeueAllRecipients));
            q.bind(1, now);
            if (q.step() != SQLITE_DONE) return db_error("retrying the queue");
        }
        Query q(stmt(Sql::RefreshUnsent));
        if (q.step() != SQLITE_DONE) return db_error("retrying the queue");
        messages = static_cast<std::size_t>(q.changes());
        return {};
    });
}

StoreResult SqliteStore::flush(Time now, std::size_t& messages) {
    messages = 0;
    return transact([&]() -> StoreResult {
        {
            Query q(stmt(Sql::FlushRecipients));
            q.bind(1, now);
            if (q.step() != SQLITE_DONE) return db_error("flushing the queue");
        }
        Query q(stmt(Sql::FlushMessages));
        q.bind(1, now);
        if (q.step() != SQLITE_DONE) return db_error("flushing the queue");
        messages = static_cast<std::size_t>(q.changes());
        return {};
    });
}

namespace {

// The rows of a schedule query; SQLITE_DONE when all were read.
int read_schedule(Query& q, std::vector<ScheduleEntry>& out) {
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        ScheduleEntry e;
        e.id = MessageId{static_cast<std::uint64_t>(q.int64(0))};
        e.priority = static_cast<Priority>(q.int64(1));
        e.created = q.int64(2);
        e.next_attempt = q.int64(3);
        out.push_back(e);
    }
    return rc;
}

}  // namespace

StoreResult SqliteStore::schedule(Time due_by, std::size_t limit, std::vector<ScheduleEntry>& out) {
    out.clear();
    Query q(stmt(Sql::Schedule));
    q.bind(1, due_by).bind(2, as_sql_limit(limit));
    if (read_schedule(q, out) != SQLITE_DONE) return db_error("reading the schedule");
    return {};
}

StoreResult SqliteStore::schedule_after(MessageId after, Time due_by, std::size_t limit,
                                        std::vector<ScheduleEntry>& out) {
    out.clear();
    Query q(stmt(Sql::ScheduleNew));
    q.bind(1, due_by).bind(2, as_sql_limit(limit)).bind(3, static_cast<std::int64_t>(after.value));
    if (read_schedule(q, out) != SQLITE_DONE) return db_error("reading the schedule");
    return {};
}

StoreResult SqliteStore::next_due(std::optional<Time>& out) {
    Query q(stmt(Sql::NextDue));
    if (q.step() != SQLITE_ROW) return db_error("reading the schedule");
    out = q.maybe_int64(0);
    return {};
}

StoreResult SqliteStore::depth(std::vector<DepthRow>& out) {
    out.clear();
    Query q(stmt(Sql::Depth));
    int rc;
    while ((rc = q.step()) == SQLITE_ROW)
        out.push_back({static_cast<Status>(q.int64(0)), static_cast<Priority>(q.int64(1)),
                       static_cast<std::uint64_t>(q.int64(2))});
    if (rc != SQLITE_DONE) return db_error("counting the queue");
    return {};
}

StoreResult SqliteStore::record(std::span<const AttemptResult> results) {
    std::vector<MessageId> touched;
    StoreResult r = transact([&]() -> StoreResult {
        touched.clear();
        touched.reserve(results.size());
        for (const AttemptResult& a : results) {
            const Status st = a.outcome == Outcome::Sent       ? Status::Sent
                              : a.outcome == Outcome::PermFail ? Status::Error
                                                               : Status::Queued;
            Query q(stmt(Sql::RecordRecipient));
            q.bind(1, as_sql(a.id))
                .bind(2, static_cast<std::int64_t>(a.recipient))
                .bind(3, static_cast<std::int64_t>(st))
                .bind(4, a.reply)
                .bind(5, st == Status::Queued ? std::optional<std::int64_t>(a.next_attempt) : std::nullopt);
            if (q.step() != SQLITE_DONE) return db_error("recording an attempt for " + a.id.text());
            if (q.changes() > 0) touched.push_back(a.id);
        }
        std::sort(touched.begin(), touched.end());
        touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
        for (const MessageId id : touched) {
            Query q(stmt(Sql::Refresh));
            q.bind(1, as_sql(id));
            if (q.step() != SQLITE_DONE) return db_error("recording an attempt for " + id.text());
        }
        return {};
    });
    if (!r) return r;
    // A message delivered to every recipient needs its body no more: the row stays (its
    // status is asked for), its part of the spool is done with. A message with failures
    // keeps its body for `retry`.
    std::vector<std::uint64_t> spools;
    for (const MessageId id : touched) {
        std::uint64_t spool = 0, offset = 0, size = 0;
        Status st = Status::Queued;
        {
            Query q(stmt(Sql::BodyPlace));
            q.bind(1, as_sql(id));
            if (q.step() != SQLITE_ROW) continue;
            spool = static_cast<std::uint64_t>(q.int64(0));
            offset = static_cast<std::uint64_t>(q.int64(1));
            size = static_cast<std::uint64_t>(q.int64(2));
            st = static_cast<Status>(q.int64(3));
        }
        if (st == Status::Sent || (st == Status::Error && detach_body(id, spool, offset, size)))
            spools.push_back(spool);
    }
    release_spools(spools);
    return r;
}

// A message that failed for good keeps its body for `retry`, but must not keep its batch's
// file (up to kSpoolFileSize) on disk until someone removes it: the body is copied to a
// file of its own, made durable, and the row moved to it. A crash before the row moves
// leaves the copy without a row (recovery deletes it); the old file is let go only after.
StoreResult SqliteStore::detach_body(MessageId id, std::uint64_t spool, std::uint64_t offset, std::uint64_t size) {
    const std::string from = MessageId{spool}.text();
    const int src = ::openat(spool_fd_, from.c_str(), O_RDONLY | O_CLOEXEC);
    if (src < 0) return {StoreError::Io, options_.dir + "/spool/" + from + ": " + std::strerror(errno)};
    struct stat st{};
    if (::fstat(src, &st) == 0 && offset == 0 && static_cast<std::uint64_t>(st.st_size) == size && spool != append_name_) {
        ::close(src);
        return {StoreError::BadInput, "already a file of its own"};  // nothing to do, nothing to let go
    }
    std::uint64_t name = 0;
    int dst = -1;
    if (StoreResult r = create_spool_file(name, dst); !r) {
        ::close(src);
        return r;
    }
    std::string buf(std::min<std::uint64_t>(size, 1 << 16), '\0');
    bool ok = true;
    for (std::uint64_t done = 0; ok && done < size;) {
        const ssize_t n = ::pread(src, buf.data(), std::min<std::uint64_t>(buf.size(), size - done),
                                  static_cast<off_t>(offset + done));
        ok = n > 0 && ::write(dst, buf.data(), static_cast<std::size_t>(n)) == n;
        done += ok ? static_cast<std::uint64_t>(n) : 0;
    }
    ok = ok && ::fdatasync(dst) == 0 && ::fsync(spool_fd_) == 0;
    ::close(src);
    ::close(dst);
    StoreResult r;
    if (!ok) r = {StoreError::Io, "copying the body of " + id.text() + " out of " + from};
    if (r) r = transact([&]() -> StoreResult {
        Query q(stmt(Sql::MoveBody));
        q.bind(1, as_sql(id)).bind(2, static_cast<std::int64_t>(name)).bind(3, static_cast<std::int64_t>(spool));
        if (q.step() != SQLITE_DONE) return db_error("moving the body of " + id.text());
        return {};
    });
    if (!r) unlink_spool(name);
    return r;
}

// Our commits are in the WAL file (written, maybe not yet synced): fdatasync makes them
// durable, whichever descriptor it comes through.
bool SqliteStore::sync_wal() noexcept {
    const int fd = ::open((options_.dir + "/queue.db-wal").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT;  // no WAL: everything is in the database file
    const bool ok = ::fdatasync(fd) == 0;
    ::close(fd);
    return ok;
}

StoreResult SqliteStore::open_body(MessageId id, Body& out) {
    std::uint64_t spool = 0, offset = 0, size = 0;
    {
        Query q(stmt(Sql::BodyPlace));
        q.bind(1, as_sql(id));
        const int rc = q.step();
        if (rc == SQLITE_DONE) return not_found(id);
        if (rc != SQLITE_ROW) return db_error("reading " + id.text());
        spool = static_cast<std::uint64_t>(q.int64(0));
        offset = static_cast<std::uint64_t>(q.int64(1));
        size = static_cast<std::uint64_t>(q.int64(2));
    }
    const std::string name = MessageId{spool}.text();
    const int fd = ::openat(spool_fd_, name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) return {StoreError::Io, options_.dir + "/spool/" + name + ": " + std::strerror(errno)};
        return {StoreError::Io, "the body of " + id.text() + " is missing from " + options_.dir + "/spool"};
    }
    struct stat s{};
    const int e = ::fstat(fd, &s) == 0 ? 0 : errno;
    if (e || static_cast<std::uint64_t>(s.st_size) < offset + size) {
        ::close(fd);
        return {StoreError::Io, "the body of " + id.text() + " in " + options_.dir + "/spool/" + name + " is " +
                                    (e ? std::strerror(e) : "cut short")};
    }
    out = Body(fd, size, offset);
    return {};
}

}  // namespace ringmail::relay
