// api/queue_json.cpp — relay::MessageInfo and MessageSummary as JSON objects (nlohmann,
// keys in a fixed order), and the paged list.
#include "api/queue_json.hpp"

#include <nlohmann/json.hpp>
#include <vector>

namespace ringmail {
namespace {

using Json = nlohmann::ordered_json;

Json json_time(std::optional<relay::Time> t) { return t ? Json(relay::format_iso8601(*t)) : Json(nullptr); }

Json summary_json(const relay::MessageSummary& m) {
    return {{"id", m.id.text()},
            {"status", relay::name(m.status)},
            {"priority", relay::name(m.priority)},
            {"from", m.sender},
            {"size", m.size},
            {"created", relay::format_iso8601(m.created)},
            {"recipients", m.recipients},
            {"pending", m.pending},
            {"next_attempt", json_time(m.next_attempt)}};
}

std::string dump(const Json& j) {
    // Addresses need not be UTF-8 (8-bit local parts): such bytes print as U+FFFD.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string queue_message_json(const relay::MessageInfo& m) {
    auto recipients = Json::array();
    for (const auto& r : m.recipients)
        recipients.push_back({{"address", r.address},
                              {"status", relay::name(r.status)},
                              {"attempts", r.attempts},
                              {"last_reply", r.attempts ? Json(r.last_reply) : nullptr},
                              {"next_attempt", json_time(r.next_attempt)}});
    Json j = {{"id", m.id.text()},
              {"status", relay::name(m.status)},
              {"priority", relay::name(m.priority)},
              {"from", m.sender},
              {"size", m.size},
              {"created", relay::format_iso8601(m.created)}};
    // Only for a message with a smarthost of its own (host:port, never its login): the
    // fields issue 14 names stay exactly those for every other message.
    if (m.route) j["smarthost"] = m.route->label();
    j["recipients"] = std::move(recipients);
    return dump(j);
}

QueueListJson::QueueListJson(relay::Store& store, std::optional<relay::Status> status) noexcept : store_(store) {
    query_.status = status;
}

bool QueueListJson::next(std::string& out) {
    if (done_) return false;
    std::vector<relay::MessageSummary> page;
    error_ = store_.list(query_, page);
    if (!error_) {
        done_ = true;
        return false;
    }
    if (!started_) out += '[';
    for (std::size_t i = 0; i < page.size(); ++i) {
        if (started_ || i > 0) out += ',';
        out += dump(summary_json(page[i]));
    }
    started_ = started_ || !page.empty();
    if (!page.empty()) query_.after = page.back().id;
    if (page.size() < query_.limit) {
        out += ']';
        done_ = true;
    }
    return true;
}

}  // namespace ringmail
