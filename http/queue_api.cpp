// http/queue_api.cpp — the routes' work on the store: an injection is one group commit
// (all of its messages or none), and the queue's JSON is api/queue_json's, byte for byte
// what `ringmail queue ... --json` prints.
#include "http/queue_api.hpp"

#include <ctime>
#include <nlohmann/json.hpp>
#include <vector>

#include "api/queue_json.hpp"
#include "base/ascii.hpp"

namespace ringmail::http {
namespace {

relay::Time now() { return static_cast<relay::Time>(std::time(nullptr)); }

unsigned status_of(relay::StoreError e) {
    switch (e) {
    case relay::StoreError::None: return 200;
    case relay::StoreError::NotFound: return 404;
    case relay::StoreError::BadInput: return 400;
    case relay::StoreError::TooBig: return 413;
    case relay::StoreError::Io:
    case relay::StoreError::Database: break;
    }
    return 500;
}

Response store_error(const relay::StoreResult& r) { return error_response(status_of(r.error), "queue: " + r.detail); }

std::optional<relay::MessageId> message_id(std::string_view text) { return relay::MessageId::parse(text); }

Response no_such_message(std::string_view id) {
    return error_response(404, "no message " + base::quoted(id) + " in the queue (ids are 16 hex digits)");
}

}  // namespace

QueueApi::QueueApi(std::unique_ptr<relay::Store> store, InjectLimits limits, std::function<void()> poke)
    : store_(std::move(store)), limits_(limits), poke_(std::move(poke)) {}

Response QueueApi::inject(std::string_view body) {
    InjectParse p = parse_inject(body, limits_);
    if (p.error != InjectError::None) return error_response(p.error == InjectError::TooBig ? 413 : 400, p.detail);
    std::vector<relay::NewMessage> batch(p.messages.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        batch[i].sender = std::move(p.messages[i].sender);
        batch[i].recipients = std::move(p.messages[i].recipients);
        batch[i].body = std::move(p.messages[i].data);
    }
    std::vector<relay::MessageId> ids;
    if (const relay::StoreResult r = store_->enqueue(batch, now(), ids); !r) return store_error(r);
    poke_();
    // KumoMTA's answer; every recipient is queued or, at any error above, none. "ids" is
    // ringmail's own: the queue ids, for GET /api/queue/ID.
    nlohmann::ordered_json j{{"success_count", p.recipients},
                             {"fail_count", 0},
                             {"failed_recipients", nlohmann::ordered_json::array()},
                             {"errors", nlohmann::ordered_json::array()},
                             {"ids", nlohmann::ordered_json::array()}};
    for (const auto& id : ids) j["ids"].push_back(id.text());
    Response r;
    r.body = j.dump();
    return r;
}

Response QueueApi::list(std::string_view status) {
    std::optional<relay::Status> want;
    if (!status.empty() && !(want = relay::parse_status(status)))
        return error_response(400, "status: " + base::quoted(status) + " (expected queued, sent or error)");
    // Shared by the response's pieces; the store outlives every response (http/server.cpp).
    auto pages = std::make_shared<QueueListJson>(*store_, want);
    Response r;
    if (!pages->next(r.body)) return store_error(pages->error());
    r.more = [pages](std::string& out) {
        if (pages->next(out)) return Piece::Some;
        return pages->error() ? Piece::End : Piece::Failed;
    };
    return r;
}

Response QueueApi::show(std::string_view id) {
    const auto parsed = message_id(id);
    if (!parsed) return no_such_message(id);
    relay::MessageInfo m;
    if (const relay::StoreResult s = store_->show(*parsed, m); !s)
        return s.error == relay::StoreError::NotFound ? no_such_message(id) : store_error(s);
    Response r;
    r.body = queue_message_json(m);
    return r;
}

Response QueueApi::remove(std::string_view id) {
    const auto parsed = message_id(id);
    if (!parsed) return no_such_message(id);
    if (const relay::StoreResult s = store_->remove(*parsed); !s)
        return s.error == relay::StoreError::NotFound ? no_such_message(id) : store_error(s);
    Response r;
    r.body = nlohmann::json{{"removed", parsed->text()}}.dump();
    return r;
}

Response QueueApi::retry(std::string_view id) {
    const auto parsed = message_id(id);
    if (!parsed) return no_such_message(id);
    if (const relay::StoreResult s = store_->retry(*parsed, now()); !s)
        return s.error == relay::StoreError::NotFound ? no_such_message(id) : store_error(s);
    // Read back before the engine is woken: it could otherwise try (and fail) the message
    // again before the reply says it is queued.
    Response r = show(id);
    poke_();
    return r;
}

Response QueueApi::metrics(const MetricsSource& source) { return metrics_response(source, *store_); }

}  // namespace ringmail::http
