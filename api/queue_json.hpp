// api/queue_json.hpp — the outbound queue as JSON: one form for `ringmail queue list|show
// --json` and the HTTP queue API (http/queue_api), so the two never drift apart.
// Times are ISO 8601 (relay::format_iso8601) or null; bytes that are not UTF-8 (8-bit
// local parts) print as U+FFFD.
#pragma once
#include <optional>
#include <string>

#include "relay/store.hpp"

namespace ringmail {

// A message and its recipients (`queue show ID --json`).
std::string queue_message_json(const relay::MessageInfo& m);

// `queue list --json`: one JSON array, read from the store in pages of 1,000 so that a
// queue of a million messages goes out in bounded memory.
class QueueListJson {
public:
    QueueListJson(relay::Store& store, std::optional<relay::Status> status) noexcept;
    // Appends the next piece of the array to `out` ("[" and the first page first, "]" last);
    // false once everything was given, or at a store error (then error() says which).
    bool next(std::string& out);
    const relay::StoreResult& error() const noexcept { return error_; }

private:
    relay::Store& store_;
    relay::ListQuery query_;
    relay::StoreResult error_;
    bool started_ = false, done_ = false;
};

}  // namespace ringmail
