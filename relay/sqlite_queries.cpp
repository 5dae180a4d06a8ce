// relay/sqlite_queries.cpp — the SQLite store's reads and state changes after enqueue:
// show, list, remove, retry, flush, the due schedule and attempt results. Every change is
// one BEGIN IMMEDIATE transaction that also brings the message row (status, pending,
// next_attempt) in line with its recipients, so a reader never sees them disagree.
#include <fcntl.h>
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

// Rows first, body after the commit: a crash in between leaves a body without a row, which
// the next lone open deletes; the other order could leave a row without its body.
StoreResult SqliteStore::remove(MessageId id) {
    StoreResult r = transact([&]() -> StoreResult {
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
    if (r && ::unlinkat(spool_fd_, id.text().c_str(), 0) != 0 && errno != ENOENT)
        return {StoreError::Io, options_.dir + "/spool/" + id.text() + ": " + std::strerror(errno)};
    return r;
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

StoreResult SqliteStore::schedule(Time due_by, std::size_t limit, std::vector<ScheduleEntry>& out) {
    out.clear();
    Query q(stmt(Sql::Schedule));
    q.bind(1, due_by).bind(2, as_sql_limit(limit));
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        ScheduleEntry e;
        e.id = MessageId{static_cast<std::uint64_t>(q.int64(0))};
        e.priority = static_cast<Priority>(q.int64(1));
        e.created = q.int64(2);
        e.next_attempt = q.int64(3);
        out.push_back(e);
    }
    if (rc != SQLITE_DONE) return db_error("reading the schedule");
    return {};
}

StoreResult SqliteStore::next_due(std::optional<Time>& out) {
    Query q(stmt(Sql::NextDue));
    if (q.step() != SQLITE_ROW) return db_error("reading the schedule");
    out = q.maybe_int64(0);
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
    // status is asked for), the spool file goes, so the queue does not grow with history.
    // A message with failures keeps its body for `retry`. A crash before the unlink leaves
    // a file that recovery removes (it has no row that needs a body).
    for (const MessageId id : touched) {
        Status st;
        if (status(id, st) && st == Status::Sent) ::unlinkat(spool_fd_, id.text().c_str(), 0);
    }
    return r;
}

StoreResult SqliteStore::open_body(MessageId id, Body& out) {
    const std::string name = id.text();
    const int fd = ::openat(spool_fd_, name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) return {StoreError::Io, options_.dir + "/spool/" + name + ": " + std::strerror(errno)};
        Status st;
        if (StoreResult r = status(id, st); !r) return r;  // NotFound: no such message
        return {StoreError::Io, "the body of " + name + " is missing from " + options_.dir + "/spool"};
    }
    struct stat s{};
    if (::fstat(fd, &s) != 0) {
        const int e = errno;
        ::close(fd);
        return {StoreError::Io, options_.dir + "/spool/" + name + ": " + std::strerror(e)};
    }
    out = Body(fd, static_cast<std::uint64_t>(s.st_size));
    return {};
}

}  // namespace ringmail::relay
