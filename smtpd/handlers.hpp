// smtpd/handlers.hpp — the three user handlers of server::use() and their verdicts.
// They run on handler pool threads, never on a reactor; they may block.
#pragma once
#include <functional>
#include <string>

#include "mime/mail.hpp"

namespace ringmail {

// What on_mail decides: 250, 451 or 550, each with optional reply text.
struct Verdict {
    enum class Kind { Accept, TempFail, Reject };
    Kind kind = Kind::Accept;
    std::string text;

    static Verdict accept(std::string t = {}) { return {Kind::Accept, std::move(t)}; }
    static Verdict temp_fail(std::string t = {}) { return {Kind::TempFail, std::move(t)}; }
    static Verdict reject(std::string t = {}) { return {Kind::Reject, std::move(t)}; }
};

using OnMail = std::function<Verdict(const Mail&)>;
// What an on_mail reads of a Mail: `Split` fills message and attachments (the MIME
// parser runs while the data arrives); `Raw` only the envelope, header fields and the
// original, so that with mime = auto nothing is parsed for it.
enum class MailParts { Split, Raw };
// The bare recipient address; true accepts it.
using OnRcpt = std::function<bool(const std::string& recipient)>;
// true accepts the login and sets Mail::user.
using OnAuth = std::function<bool(const std::string& user, const std::string& password)>;

}  // namespace ringmail
