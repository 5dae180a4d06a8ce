// smtpd/mail_builder.cpp — envelope + header fields → Mail.
#include "smtpd/mail_builder.hpp"

#include "mime/header_fields.hpp"

namespace ringmail::smtpd {

Mail make_mail(proto::Envelope&& env, const std::string& ip, mime::ParsedMail* parsed) {
    Mail m;
    m.host = std::move(env.helo);
    m.user = std::move(env.user);
    m.sender = std::move(env.sender);
    m.recipients = std::move(env.recipients);
    m.original = std::move(env.body);
    m.ip = ip;
    if (parsed) {
        m.from = parsed->from.value_or("");
        m.to = parsed->to.value_or("");
        m.cc = parsed->cc.value_or("");
        m.bcc = parsed->bcc.value_or("");
        m.subject = parsed->subject.value_or("");
        m.message = std::move(parsed->message);
        for (auto& [name, a] : parsed->attachments) m.attachments.emplace(name, std::move(a.data));
        return m;
    }
    auto h = mime::read_header_fields(m.original);
    m.from = h.from.value_or("");
    m.to = h.to.value_or("");
    m.cc = h.cc.value_or("");
    m.bcc = h.bcc.value_or("");
    m.subject = h.subject.value_or("");
    return m;
}

}  // namespace ringmail::smtpd
