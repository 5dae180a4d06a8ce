// http/inject.cpp — KumoMTA's inject request (nlohmann::json) → EmailCompose per recipient,
// or the caller's own message text, merged with mime::merge_variables ("{{ name }}" and
// "#name#" in one pass). Runs on the HTTP thread, never a reactor: a bad field is thrown
// as Bad inside this file and becomes the result's error at parse_inject's boundary.
#include "http/inject.hpp"

#include <nlohmann/json.hpp>

#include "api/email_compose.hpp"
#include "base/ascii.hpp"
#include "mime/base64.hpp"
#include "mime/merge.hpp"
#include "proto/path.hpp"

namespace ringmail::http {
namespace {

using Json = nlohmann::json;

struct Bad {
    InjectError kind;
    std::string detail;
};

[[noreturn]] void bad(const std::string& path, const std::string& why, InjectError kind = InjectError::BadRequest) {
    throw Bad{kind, path + ": " + why};
}

// The member `name` of `obj`; null when absent or JSON null (KumoMTA's optional fields).
const Json* member(const Json& obj, const char* name) {
    const auto it = obj.find(name);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
}

const Json* typed(const Json& obj, const std::string& path, const char* name, bool required, Json::value_t type,
                  const char* type_name) {
    const Json* v = member(obj, name);
    if (!v && required) bad(path + name, "missing");
    if (v && v->type() != type)
        bad(path + name, std::string("expected ") + type_name + ", got " + v->type_name());
    return v;
}

std::string text(const Json& obj, const std::string& path, const char* name, bool required = false) {
    const Json* v = typed(obj, path, name, required, Json::value_t::string, "a string");
    return v ? v->get<std::string>() : std::string();
}

const Json* object(const Json& obj, const std::string& path, const char* name, bool required = false) {
    return typed(obj, path, name, required, Json::value_t::object, "an object");
}

const Json* array(const Json& obj, const std::string& path, const char* name, bool required = false) {
    return typed(obj, path, name, required, Json::value_t::array, "an array");
}

std::string address(const std::string& value, const std::string& path, bool is_rcpt) {
    const std::optional<std::string> a = proto::bare_address(value, is_rcpt);
    if (!a) bad(path, "not an address: " + base::quoted(value));
    return *a;
}

// A display name and address as a header value: the name quoted (RFC 5322 3.2.4), control
// characters made spaces so that no name can start a header field of its own.
std::string mailbox(std::string name, const std::string& bare) {
    if (name.empty()) return bare;
    std::string q = "\"";
    for (char c : name) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
        if (c == '"' || c == '\\') q += '\\';
        q += c;
    }
    return q + "\" <" + bare + ">";
}

// {"email": ..., "name": ...} as a header value (from, reply_to).
std::string mailbox_field(const Json& obj, const std::string& path, const char* name) {
    const Json* o = object(obj, path, name);
    if (!o) return {};
    const std::string at = path + name + ".";
    return mailbox(text(*o, at, "name"), address(text(*o, at, "email", true), at + "email", false));
}

// Substitution values: strings as they are, numbers and booleans as JSON writes them.
void add_tokens(const Json* subs, const std::string& path, mime::Tokens& tokens) {
    if (!subs) return;
    for (const auto& [key, value] : subs->items()) {
        if (value.is_string()) tokens[key] = value.get<std::string>();
        else if (value.is_number() || value.is_boolean()) tokens[key] = value.dump();
        else if (value.is_null()) tokens[key] = "";
        else bad(path + "." + key, std::string("expected a string, number or boolean, got ") + value.type_name());
    }
}

EmailFile attachment(const Json& a, const std::string& path, std::size_t index) {
    if (!a.is_object()) bad(path, std::string("expected an object, got ") + a.type_name());
    std::string data = text(a, path + ".", "data", true);
    const Json* b64 = typed(a, path + ".", "base64", false, Json::value_t::boolean, "a boolean");
    if (b64 && b64->get<bool>()) {
        mime::Base64Decoder d;
        std::string raw;
        d.feed(data, raw);
        d.finish(raw);
        if (d.had_errors()) bad(path + ".data", "not valid base64");
        data = std::move(raw);
    }
    const std::string cid = text(a, path + ".", "content_id");
    std::string name = text(a, path + ".", "file_name");
    // XXX: the composer names an inline part by its Content-ID alone, so a file_name given
    // with a content_id is not kept.
    if (!cid.empty()) name = cid;
    if (name.empty()) name = "attachment-" + std::to_string(index + 1);
    return EmailFile::from_data(std::move(name), std::move(data), text(a, path + ".", "content_type"));
}

// The object form of `content`: everything but To and the merge.
EmailMessage content_object(const Json& c, const std::string& sender) {
    EmailMessage m;
    m.subject = text(c, "content.", "subject");
    m.from = mailbox_field(c, "content.", "from");
    if (m.from.empty()) m.from = sender;
    m.reply_to = mailbox_field(c, "content.", "reply_to");
    m.text = text(c, "content.", "text_body");
    m.html = text(c, "content.", "html_body");
    if (const Json* h = object(c, "content.", "headers")) {
        for (const auto& [name, value] : h->items()) {
            if (!value.is_string())
                bad("content.headers." + name, std::string("expected a string, got ") + value.type_name());
            m.extra_headers.emplace_back(name, value.get<std::string>());
        }
    }
    if (const Json* list = array(c, "content.", "attachments")) {
        for (std::size_t i = 0; i < list->size(); ++i) {
            const Json& a = (*list)[i];
            EmailFile f = attachment(a, "content.attachments[" + std::to_string(i) + "]", i);
            const Json* cid = member(a, "content_id");
            (cid ? m.html_images : m.attachments).push_back(std::move(f));
        }
    }
    return m;
}

struct Recipient {
    std::string address;  // bare
    std::string name;
    mime::Tokens tokens;  // the request's, under the recipient's own
};

std::vector<Recipient> recipients(const Json& req, const mime::Tokens& global, bool& any_tokens) {
    const Json& list = *array(req, "", "recipients", true);
    if (list.empty()) bad("recipients", "empty (expected at least one {\"email\": ...})");
    std::vector<Recipient> out;
    any_tokens = !global.empty();
    for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string path = "recipients[" + std::to_string(i) + "]";
        const Json& r = list[i];
        if (!r.is_object()) bad(path, std::string("expected an object, got ") + r.type_name());
        Recipient x;
        x.address = address(text(r, path + ".", "email", true), path + ".email", true);
        x.name = text(r, path + ".", "name");
        add_tokens(object(r, path + ".", "substitutions"), path + ".substitutions", x.tokens);
        any_tokens = any_tokens || !x.tokens.empty();
        for (const auto& [k, v] : global) x.tokens.emplace(k, v);  // emplace keeps the recipient's
        out.push_back(std::move(x));
    }
    return out;
}

std::string merged(const std::string& s, const mime::Tokens& tokens) {
    return tokens.empty() ? s : mime::merge_variables(s, tokens, true);
}

void add(InjectParse& out, InjectMessage m, const std::string& path, const InjectLimits& limits, std::uint64_t& total) {
    const std::uint64_t size = m.data.size();
    if (limits.max_message_size && size > limits.max_message_size)
        bad(path, "the message is " + std::to_string(size) + " octets, over the queue's limit of " +
                      std::to_string(limits.max_message_size) + " ([relay] max_message_size)",
            InjectError::TooBig);
    total += size;
    if (limits.max_total_size && total > limits.max_total_size)
        bad(path, "the request makes over " + std::to_string(limits.max_total_size) +
                      " octets of messages in all; send its recipients in several requests",
            InjectError::TooBig);
    out.recipients += m.recipients.size();
    out.messages.push_back(std::move(m));
}

InjectParse convert(const Json& req, const InjectLimits& limits) {
    if (!req.is_object()) bad("request", std::string("expected a JSON object, got ") + req.type_name());
    InjectParse out;
    const std::string sender = address(text(req, "", "envelope_sender", true), "envelope_sender", false);
    const Json* content = member(req, "content");
    if (!content) bad("content", "missing");
    if (!content->is_string() && !content->is_object())
        bad("content", std::string("expected a string or an object, got ") + content->type_name());
    mime::Tokens global;
    add_tokens(object(req, "", "substitutions"), "substitutions", global);
    bool any_tokens = false;
    std::vector<Recipient> rcpts = recipients(req, global, any_tokens);
    std::uint64_t total = 0;
    if (content->is_string() && !any_tokens) {  // one message for all, as given
        InjectMessage m{sender, {}, content->get<std::string>()};
        for (auto& r : rcpts) m.recipients.push_back(std::move(r.address));
        add(out, std::move(m), "content", limits, total);
        return out;
    }
    const EmailMessage base = content->is_object() ? content_object(*content, sender) : EmailMessage{};
    for (std::size_t i = 0; i < rcpts.size(); ++i) {
        Recipient& r = rcpts[i];
        InjectMessage m{sender, {r.address}, {}};
        if (content->is_string()) {
            m.data = merged(content->get_ref<const std::string&>(), r.tokens);
        } else {
            EmailMessage e = base;
            e.to = mailbox(r.name, r.address);
            e.subject = merged(e.subject, r.tokens);
            e.text = merged(e.text, r.tokens);
            e.html = merged(e.html, r.tokens);
            for (auto& h : e.extra_headers) h.second = merged(h.second, r.tokens);
            EmailCompose c(std::move(e));
            m.data = c.data();
        }
        add(out, std::move(m), "recipients[" + std::to_string(i) + "]", limits, total);
    }
    return out;
}

}  // namespace

InjectParse parse_inject(std::string_view json, const InjectLimits& limits) {
    try {
        Json req;
        try {
            req = Json::parse(json);
        } catch (const Json::parse_error& e) {
            // "[json.exception.parse_error.101] parse error at line 1, column 2: ...": the rest.
            const std::string what = e.what();
            const std::size_t at = what.find("] ");
            bad("request", "not valid JSON: " + (at == std::string::npos ? what : what.substr(at + 2)));
        }
        return convert(req, limits);
    } catch (const Bad& b) {
        InjectParse out;
        out.error = b.kind;
        out.detail = b.detail;
        return out;
    }
}

}  // namespace ringmail::http
