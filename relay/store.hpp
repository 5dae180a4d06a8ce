// relay/store.hpp — the outbound queue's durable state behind one interface: SQLite
// (sqlite_store.hpp) is the embedded default, and a PostgreSQL store that claims rows with
// FOR UPDATE SKIP LOCKED can follow without touching the scheduler (issue 14, "Store").
// Invariant: when enqueue() returns ids, body and rows are on stable storage (a 250 may go out).
#pragma once
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "relay/message_id.hpp"
#include "relay/message_route.hpp"
#include "relay/timestamp.hpp"

namespace ringmail::relay {

enum class Priority : std::uint8_t { High = 0, Medium = 1, Low = 2 };  // lower sorts first
enum class Status : std::uint8_t { Queued = 0, Sent = 1, Error = 2 };

std::string_view name(Priority p) noexcept;  // "high", "medium", "low"
std::string_view name(Status s) noexcept;    // "queued", "sent", "error"
std::optional<Priority> parse_priority(std::string_view s) noexcept;
std::optional<Status> parse_status(std::string_view s) noexcept;

// A message's status from its recipients', as the original's email_status gives it: queued
// while any recipient is pending, sent when all were delivered, error when none is pending
// and any failed.
constexpr Status message_status(std::size_t pending, std::size_t failed) noexcept {
    return pending > 0 ? Status::Queued : failed > 0 ? Status::Error : Status::Sent;
}

enum class StoreError : std::uint8_t { None, NotFound, BadInput, TooBig, Io, Database };

struct StoreResult {
    StoreError error = StoreError::None;
    std::string detail;  // one line for a log or the command line; empty when all went well
    explicit operator bool() const noexcept { return error == StoreError::None; }
};

struct NewMessage {
    std::string sender;                   // envelope sender, bare; empty for the null sender <>
    std::vector<std::string> recipients;  // bare addresses, at least one
    Priority priority = Priority::Medium;
    std::optional<Time> not_before;       // no delivery attempt before this time
    std::string body;                     // the message, or (when body_file is set) empty
    std::string body_file;                // a file the caller wrote under Store::temp_dir();
                                          // the store moves it into its spool (no copy)
    std::optional<MessageRoute> route;    // a smarthost of its own; none: the relay's route
};

struct RecipientInfo {
    std::string address;
    Status status = Status::Queued;
    std::uint32_t attempts = 0;
    std::string last_reply;               // the last attempt's reply or error; empty before one
    std::optional<Time> next_attempt;     // only while queued
};

struct MessageInfo {
    MessageId id;
    Status status = Status::Queued;
    Priority priority = Priority::Medium;
    std::string sender;
    std::uint64_t size = 0;               // body octets
    Time created = 0;
    std::optional<MessageRoute> route;    // as queued (it holds the password: never print it)
    std::vector<RecipientInfo> recipients;  // in the order they were given
};

struct MessageSummary {  // a line of `ringmail queue list`
    MessageId id;
    Status status = Status::Queued;
    Priority priority = Priority::Medium;
    std::string sender;
    std::uint64_t size = 0;
    Time created = 0;
    std::uint32_t recipients = 0, pending = 0;
    std::optional<Time> next_attempt;     // the earliest of the pending recipients'
};

// Messages by status and priority (GET /metrics' queue depth); absent pairs have none.
struct DepthRow {
    Status status = Status::Queued;
    Priority priority = Priority::Medium;
    std::uint64_t messages = 0;
};

// Pages through the queue in id (age) order: the next page starts after the last id seen.
struct ListQuery {
    std::optional<Status> status;  // none: every message
    MessageId after{0};            // ids greater than this one
    std::size_t limit = 1000;
};

// What a scheduler keeps per queued message: 32 bytes, so a million queued messages cost
// 32 MB in a vector (issue 14 allows 1 KiB each); the rest stays on disk until delivery.
struct ScheduleEntry {
    MessageId id;
    Time created = 0;
    Time next_attempt = 0;  // the earliest of its pending recipients'
    Priority priority = Priority::Medium;
};
static_assert(sizeof(ScheduleEntry) <= 32);

enum class Outcome : std::uint8_t { Sent, TempFail, PermFail };

struct AttemptResult {
    MessageId id;
    std::uint32_t recipient = 0;  // index into MessageInfo::recipients
    Outcome outcome = Outcome::TempFail;
    std::string reply;            // the server's reply or our error, for last_reply
    Time next_attempt = 0;        // TempFail only: when to try again (the scheduler's backoff)
};

// A message body open for reading: `size` octets at `offset` of the file (a spool file may
// hold the bodies of a whole batch); owns the descriptor.
class Body {
public:
    Body() = default;
    Body(int fd, std::uint64_t size, std::uint64_t offset = 0) noexcept : fd_(fd), size_(size), offset_(offset) {}
    Body(Body&& o) noexcept : fd_(o.fd_), size_(o.size_), offset_(o.offset_) { o.fd_ = -1; }
    Body& operator=(Body&& o) noexcept;
    Body(const Body&) = delete;
    Body& operator=(const Body&) = delete;
    ~Body();
    int fd() const noexcept { return fd_; }
    std::uint64_t size() const noexcept { return size_; }
    std::uint64_t offset() const noexcept { return offset_; }

private:
    int fd_ = -1;
    std::uint64_t size_ = 0;
    std::uint64_t offset_ = 0;
};

// One store is used by one thread at a time; several processes may open the same queue
// (a server and the command line). Calls block on disk and must not run on a reactor.
// `now` is an argument wherever the time matters, so tests and schedulers decide it.
class Store {
public:
    virtual ~Store() = default;

    // The whole batch in one durable group commit; `ids` gets one id per message, in order.
    // All or nothing: on an error no message of the batch is queued.
    virtual StoreResult enqueue(std::span<const NewMessage> batch, Time now, std::vector<MessageId>& ids) = 0;
    // Where callers write bodies they pass as NewMessage::body_file (same file system).
    virtual std::string temp_dir() const = 0;

    virtual StoreResult status(MessageId id, Status& out) = 0;
    virtual StoreResult show(MessageId id, MessageInfo& out) = 0;
    virtual StoreResult list(const ListQuery& q, std::vector<MessageSummary>& out) = 0;
    // Forgets the message and deletes its body, whatever its status.
    virtual StoreResult remove(MessageId id) = 0;
    // Another go for one message, or for every message not yet sent: its pending and failed
    // recipients become queued and due at `now`; delivered recipients are never sent again.
    virtual StoreResult retry(MessageId id, Time now) = 0;
    virtual StoreResult retry_all(Time now, std::size_t& messages) = 0;
    // Makes every pending recipient due at `now` (failed ones stay failed).
    virtual StoreResult flush(Time now, std::size_t& messages) = 0;

    // Queued messages due at or before `due_by`, highest priority first, then oldest; at most
    // `limit`. A scheduler that keeps the whole schedule in memory passes the end of time.
    virtual StoreResult schedule(Time due_by, std::size_t limit, std::vector<ScheduleEntry>& out) = 0;
    // The same for messages with ids above `after` only, oldest first: what was queued since
    // a scheduler last looked, at a cost that does not grow with the queue.
    virtual StoreResult schedule_after(MessageId after, Time due_by, std::size_t limit,
                                       std::vector<ScheduleEntry>& out) = 0;
    // The earliest next attempt of any queued message; none when nothing is queued.
    virtual StoreResult next_due(std::optional<Time>& out) = 0;
    // One transaction for the batch: each pending recipient named becomes sent, queued again
    // at next_attempt, or failed; attempts + 1, last_reply = reply. Results for recipients
    // no longer pending (removed, or already decided) are ignored.
    virtual StoreResult record(std::span<const AttemptResult> results) = 0;
    virtual StoreResult open_body(MessageId id, Body& out) = 0;
    // One GROUP BY count over the messages (XXX: it reads every row, as rows are never
    // purged yet; a scrape of a queue of a million rows costs tens of milliseconds).
    virtual StoreResult depth(std::vector<DepthRow>& out) = 0;
};

}  // namespace ringmail::relay
