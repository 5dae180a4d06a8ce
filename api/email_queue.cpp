// api/email_queue.cpp — email_send and friends: compose (api/email_compose), merge per
// recipient (mime/merge), then one relay::Store::enqueue per call or batch (the group
// commit that makes a batch cheap), or smtp::Client now for immediate sends.
// Invariant: a call that returns an error has queued nothing.
#include "api/email_queue.hpp"

#include <unistd.h>

#include <ctime>
#include <exception>

#include "base/ascii.hpp"
#include "mime/address_list.hpp"
#include "relay/dns.hpp"
#include "relay/sqlite_store.hpp"

namespace ringmail {
namespace {

EmailResult failure(std::string why) {
    EmailResult r;
    r.error = std::move(why);
    return r;
}

bool same_address(std::string_view key, std::string_view address) {
    if (base::iequals(key, address)) return true;
    const auto a = mime::extract_addresses(key);
    return a.size() == 1 && base::iequals(a.front(), address);
}

// Who gets which tokens: each recipient named in `merge` alone with the defaults under its
// own tokens; everyone else together with the defaults. Groups in recipient order.
struct Group {
    mime::Tokens tokens;
    std::vector<std::string> recipients;
};

std::vector<Group> merge_groups(const std::vector<std::string>& recipients, const mime::Tokens& defaults,
                                const std::map<std::string, mime::Tokens>& merge) {
    std::vector<Group> groups;
    std::size_t shared = static_cast<std::size_t>(-1);
    for (const std::string& r : recipients) {
        const mime::Tokens* own = nullptr;
        for (const auto& [key, tokens] : merge)
            if (same_address(key, r)) own = &tokens;
        if (own) {
            Group g{*own, {r}};
            for (const auto& [k, v] : defaults) g.tokens.emplace(k, v);  // emplace keeps the recipient's
            groups.push_back(std::move(g));
        } else if (shared < groups.size()) {
            groups[shared].recipients.push_back(r);
        } else {
            shared = groups.size();
            groups.push_back({defaults, {r}});
        }
    }
    return groups;
}

std::string domain_of(const std::string& address) {
    const std::size_t at = address.rfind('@');
    return at == std::string::npos ? std::string() : base::to_lower(address.substr(at + 1));
}

std::string our_name() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "localhost";
    return host;
}

smtp::SendResult refused_all(const std::vector<std::string>& recipients, smtp::ErrorKind kind, std::string why) {
    smtp::SendResult r;
    r.kind = kind;
    r.error = std::move(why);
    for (const auto& a : recipients) r.recipients.push_back({a, false, r.error});
    return r;
}

// One transaction on one server; false when no connection came up (the caller may try the
// next host), with `out` saying why.
bool send_via(const std::string& host, int port, const Smarthost& s, const std::string& data,
              const std::string& from, const std::vector<std::string>& recipients, smtp::SendResult& out) {
    smtp::Client client;
    if (!client.open(host, port, s.tls, s.timeout_s, s.user, s.password, smtp_options(s))) {
        out = refused_all(recipients, client.error_kind(), client.error());
        return false;
    }
    out = client.send(from, recipients, data);
    client.close();
    return true;
}

// No smarthost: each recipient domain's MX hosts in order (RFC 5321 5.1), port 25, the
// first that answers takes that domain's recipients.
smtp::SendResult send_to_mx(const std::string& data, const std::string& from, const std::vector<std::string>& rcpts,
                            const Smarthost& s) {
    std::map<std::string, std::vector<std::string>> by_domain;
    for (const auto& r : rcpts) by_domain[domain_of(r)].push_back(r);
    smtp::SendResult all;
    for (const auto& [domain, list] : by_domain) {
        smtp::SendResult one = refused_all(list, smtp::ErrorKind::Connect, "no MX host of " + domain + " answered");
        const relay::MxResult mx = email_mxlookup(domain);
        if (mx.status != relay::MxStatus::Mx && mx.status != relay::MxStatus::ImplicitMx) {
            one.error = "MX lookup of " + domain + ": " + std::string(relay::to_string(mx.status)) +
                        (mx.why.empty() ? "" : " (" + mx.why + ")");
            for (auto& x : one.recipients) x.reply = one.error;
        }
        bool done = false;
        for (const relay::MxHost& h : mx.hosts) {
            std::vector<std::string> addresses;
            for (const auto& a : h.v4) addresses.push_back(relay::format_address(a));
            for (const auto& a : h.v6) addresses.push_back(relay::format_address(a));
            for (const auto& a : addresses)
                if ((done = send_via(a, 25, s, data, from, list, one))) break;
            if (done) break;
        }
        if (all.kind == smtp::ErrorKind::None && one.kind != smtp::ErrorKind::None) {
            all.kind = one.kind;
            all.error = one.error;
        }
        all.reply = one.reply;
        for (auto& x : one.recipients) all.recipients.push_back(std::move(x));
    }
    return all;
}

smtp::SendResult send_now(const std::string& data, const std::string& from, const std::vector<std::string>& rcpts,
                          const Smarthost& s) {
    if (s.host.empty()) return send_to_mx(data, from, rcpts, s);
    smtp::SendResult r;
    send_via(s.host, s.port, s, data, from, rcpts, r);
    return r;
}

}  // namespace

smtp::Options smtp_options(const Smarthost& s) {
    smtp::Options o;
    o.ehlo_name = our_name();
    o.verify = s.verify;
    o.ca_file = s.ca_file;
    return o;
}

std::unique_ptr<MailQueue> MailQueue::open(const std::string& queue_dir, std::uint64_t max_message_size) {
    relay::SqliteStoreOptions o;
    o.dir = queue_dir;
    o.max_message_size = max_message_size;
    std::unique_ptr<relay::Store> store = relay::SqliteStore::open(o);
    auto q = std::make_unique<MailQueue>(*store, max_message_size);
    q->owned_ = std::move(store);
    return q;
}

// A queued message's own smarthost as the relay keeps it (none when `s` names no host).
// The relay checks certificates against its own CAs ([relay] ca_file): one of the
// message's own cannot be kept.
std::optional<relay::MessageRoute> queued_route(const Smarthost& s, std::string& error) {
    if (s.host.empty()) return std::nullopt;
    if (s.port <= 0 || s.port > 65535) {
        error = "smarthost port " + std::to_string(s.port) + " is not a port";
        return std::nullopt;
    }
    if (s.timeout_s < 0) {
        error = "smarthost timeout is negative";
        return std::nullopt;
    }
    if (!s.ca_file.empty()) {
        error = "a CA file of its own works only for an immediate send (the relay uses [relay] ca_file)";
        return std::nullopt;
    }
    relay::MessageRoute r;
    r.host = s.host;
    r.port = static_cast<std::uint16_t>(s.port);
    r.tls = s.tls == smtp::Mode::Tls        ? SmarthostTls::Smtps
            : s.tls == smtp::Mode::StartTls ? SmarthostTls::StartTls
                                            : SmarthostTls::None;
    r.user = s.user;
    r.password = s.password;
    r.timeout_s = static_cast<unsigned>(s.timeout_s);
    r.verify = s.verify;
    return r;
}

EmailResult EmailBatch::add(std::string data, const std::string& from, std::vector<std::string> recipients,
                            relay::Priority priority, std::optional<relay::Time> not_before,
                            const Smarthost& smarthost) {
    if (recipients.empty()) return failure("no recipients");
    std::string error;
    std::optional<relay::MessageRoute> route = queued_route(smarthost, error);
    if (!error.empty()) return failure(error);
    if (q_.max_message_size() > 0 && data.size() > q_.max_message_size())
        return failure("message of " + std::to_string(data.size()) + " octets is over the queue's limit of " +
                       std::to_string(q_.max_message_size()) + " (send it immediately instead)");
    relay::NewMessage m;
    m.sender = from;
    m.recipients = std::move(recipients);
    m.priority = priority;
    m.not_before = not_before;
    m.body = std::move(data);
    m.route = std::move(route);
    pending_.push_back(std::move(m));
    return {};
}

EmailResult EmailBatch::send(const EmailSend& message) {
    EmailCompose base{EmailMessage(message)};
    if (!base.load_files()) return failure(base.error());
    const std::string from = base.from();
    if (from.find('@') == std::string::npos) return failure("from holds no address");
    const std::vector<std::string> recipients = base.recipients();
    if (recipients.empty()) return failure("no recipients: give to, cc or bcc");
    const bool merging = !message.tokens.empty() || !message.merge.empty();
    std::vector<Group> groups;
    if (merging) groups = merge_groups(recipients, message.tokens, message.merge);
    else groups.push_back({{}, recipients});

    EmailResult result;
    const std::size_t before = pending_.size();
    for (Group& g : groups) {
        EmailCompose c{base.message()};  // files already read
        if (merging) {
            EmailMessage& m = c.message();
            m.subject = mime::merge_tokens(m.subject, g.tokens);
            m.text = mime::merge_tokens(m.text, g.tokens);
            m.html = mime::merge_tokens(m.html, g.tokens);
        }
        std::string data = c.data();
        if (message.immediate) {
            result.sent.push_back(send_now(data, from, g.recipients, message.smarthost));
            if (!result.sent.back().ok() && result.error.empty()) result.error = result.sent.back().error;
            continue;
        }
        if (EmailResult r =
                add(std::move(data), from, std::move(g.recipients), message.priority, message.not_before, message.smarthost);
            !r) {
            pending_.resize(before);  // all of this message's or none
            return r;
        }
    }
    return result;
}

EmailResult EmailBatch::queue(const EmailQueued& message) {
    if (message.recipients.empty()) return failure("no recipients");
    const bool merging = !message.tokens.empty() || !message.merge.empty();
    std::vector<Group> groups;
    if (merging) groups = merge_groups(message.recipients, message.tokens, message.merge);
    else groups.push_back({{}, message.recipients});
    const std::size_t before = pending_.size();
    for (Group& g : groups) {
        std::string data = merging ? mime::merge_tokens(message.data, g.tokens) : message.data;
        if (EmailResult r = add(std::move(data), message.from, std::move(g.recipients), message.priority,
                                message.not_before, message.smarthost);
            !r) {
            pending_.resize(before);
            return r;
        }
    }
    return {};
}

EmailResult EmailBatch::commit() {
    EmailResult result;
    if (pending_.empty()) return result;
    std::vector<relay::MessageId> ids;
    const relay::StoreResult r = q_.store().enqueue(pending_, static_cast<relay::Time>(std::time(nullptr)), ids);
    pending_.clear();
    if (!r) return failure("queue: " + r.detail);
    for (const auto& id : ids) result.ids.push_back(id.text());
    if (!result.ids.empty()) result.id = result.ids.front();
    return result;
}

EmailResult email_send(MailQueue& queue, const EmailSend& message) {
    EmailBatch batch(queue);
    EmailResult sent = batch.send(message);
    if (!sent || message.immediate) return sent;
    return batch.commit();
}

EmailResult email_queue(MailQueue& queue, const EmailQueued& message) {
    EmailBatch batch(queue);
    if (EmailResult r = batch.queue(message); !r) return r;
    return batch.commit();
}

EmailResult email_immediate(const EmailQueued& message) {
    if (message.recipients.empty()) return failure("no recipients");
    EmailResult result;
    const bool merging = !message.tokens.empty() || !message.merge.empty();
    std::vector<Group> groups;
    if (merging) groups = merge_groups(message.recipients, message.tokens, message.merge);
    else groups.push_back({{}, message.recipients});
    for (const Group& g : groups) {
        const std::string data = merging ? mime::merge_tokens(message.data, g.tokens) : message.data;
        result.sent.push_back(send_now(data, message.from, g.recipients, message.smarthost));
        if (!result.sent.back().ok() && result.error.empty()) result.error = result.sent.back().error;
    }
    return result;
}

EmailResult email_batch(MailQueue& queue, const std::function<void(EmailBatch&)>& block) {
    EmailBatch batch(queue);
    block(batch);
    return batch.commit();
}

std::string email_status(MailQueue& queue, std::string_view id) {
    const auto parsed = relay::MessageId::parse(id);
    if (!parsed) return {};
    relay::Status s{};
    if (!queue.store().status(*parsed, s)) return {};
    return std::string(relay::name(s));
}

std::string email_merge(std::string_view text, const mime::Tokens& tokens, std::string_view charset,
                        std::string_view transfer_encoding) {
    return mime::merge_tokens(text, tokens, charset, transfer_encoding);
}

relay::MxResult email_mxlookup(std::string_view domain) {
    try {
        return relay::resolve_mx_sync(relay::ResolverOptions{}, domain);
    } catch (const std::exception& e) {
        relay::MxResult r;
        r.domain = std::string(domain);
        r.status = relay::MxStatus::TempFail;
        r.why = e.what();
        return r;
    }
}

}  // namespace ringmail
