// mime/dsn.cpp — the bounce message. Fields a remote server wrote (its reply) or a client
// gave (addresses) are made single-line and cut to fit 998-octet lines, so that nothing
// they hold can add fields or parts to the report.
#include "mime/dsn.hpp"

#include <cctype>

namespace ringmail::mime {
namespace {

constexpr std::size_t kMaxValue = 900;  // with the field name, within 998 octets

std::string one_line(std::string_view v) {
    std::string out;
    for (const char ch : v) {
        if (out.size() >= kMaxValue) break;
        const auto c = static_cast<unsigned char>(ch);
        out += (c == '\r' || c == '\n' || c == '\0' || c == '\t') ? ' ' : ch;
    }
    return out;
}

bool is_status(std::string_view s) {
    // class "." subject "." detail: 2, 4 or 5; 1-3 digits; 1-3 digits (RFC 3463 2).
    if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
    std::size_t i = 2, digits = 0;
    for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) ++digits;
    if (digits == 0 || digits > 3 || i >= s.size() || s[i] != '.') return false;
    digits = 0;
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) ++digits;
    return digits >= 1 && digits <= 3 && i == s.size();
}

// The header section of a message: up to (not including) the first empty line.
std::string_view header_section(std::string_view m) {
    for (std::size_t at = 0; at < m.size();) {
        const std::size_t eol = m.find('\n', at);
        if (eol == std::string_view::npos) return m;
        std::string_view line = m.substr(at, eol - at);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) return m.substr(0, at);
        at = eol + 1;
    }
    return m;
}

// Copies text with every line ending as CRLF and every line within 998 octets.
void append_lines(std::string& out, std::string_view text) {
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t eol = text.find('\n', at);
        std::string_view line = text.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol - at);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        for (std::size_t i = 0; i < line.size(); i += 998) {
            std::string_view piece = line.substr(i, 998);
            for (const char ch : piece) out += (ch == '\r' || ch == '\0') ? ' ' : ch;
            out += "\r\n";
        }
        if (line.empty()) out += "\r\n";
        if (eol == std::string_view::npos) break;
        at = eol + 1;
    }
}

}  // namespace

std::string dsn_status(std::string_view reply) {
    if (reply.size() < 3 || !std::isdigit(static_cast<unsigned char>(reply[0]))) return "";
    std::string_view rest = reply.substr(3);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '-')) rest.remove_prefix(1);
    const std::string_view word = rest.substr(0, rest.find(' '));
    if (is_status(word) && word[0] == reply[0]) return std::string(word);
    if (reply[0] == '5') return "5.0.0";
    if (reply[0] == '4') return "4.0.0";
    return reply[0] == '2' ? "2.0.0" : "";
}

std::string compose_dsn(const DsnInput& in) {
    bool any_failed = false;
    for (const auto& r : in.recipients) any_failed = any_failed || r.failed;
    const std::string boundary = "=_dsn_" + one_line(in.boundary_seed).substr(0, 40);
    std::string m;
    m += "From: Mail Delivery System <MAILER-DAEMON@" + one_line(in.reporting_mta) + ">\r\n";
    m += "To: <" + one_line(in.to) + ">\r\n";
    m += any_failed ? "Subject: Undelivered Mail Returned to Sender\r\n"
                    : "Subject: Delayed Mail (still being retried)\r\n";
    if (!in.date.empty()) m += "Date: " + one_line(in.date) + "\r\n";
    if (!in.message_id.empty()) m += "Message-ID: <" + one_line(in.message_id) + ">\r\n";
    m += "Auto-Submitted: auto-replied\r\n";  // RFC 3834 5: no automatic reply to this
    m += "MIME-Version: 1.0\r\n";
    m += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n";
    m += "\r\nThis is a MIME-encapsulated delivery status notification.\r\n";

    // 1. For people.
    m += "\r\n--" + boundary + "\r\n";
    m += "Content-Description: Notification\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
    m += "This is the mail system at host " + one_line(in.reporting_mta) + ".\r\n\r\n";
    m += any_failed ? "Your message could not be delivered to one or more recipients.\r\n"
                      "It is attached below (its header section only).\r\n"
                    : "Your message has not been delivered yet to one or more recipients.\r\n"
                      "Delivery will be tried again; you need not send it again.\r\n";
    for (const auto& r : in.recipients) {
        m += "\r\n<" + one_line(r.address) + ">: ";
        if (!r.remote_mta.empty()) m += "host " + one_line(r.remote_mta) + " said: ";
        m += one_line(r.reply.empty() ? r.reason : r.reply) + "\r\n";
    }

    // 2. For programs (RFC 3464 2.2 per message, 2.3 per recipient).
    m += "\r\n--" + boundary + "\r\n";
    m += "Content-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n";
    m += "Reporting-MTA: dns; " + one_line(in.reporting_mta) + "\r\n";
    if (!in.arrival_date.empty()) m += "Arrival-Date: " + one_line(in.arrival_date) + "\r\n";
    for (const auto& r : in.recipients) {
        m += "\r\nFinal-Recipient: rfc822; " + one_line(r.address) + "\r\n";
        m += std::string("Action: ") + (r.failed ? "failed" : "delayed") + "\r\n";
        std::string status = r.status.empty() ? dsn_status(r.reply) : one_line(r.status);
        if (!is_status(status)) status = r.failed ? "5.0.0" : "4.0.0";
        m += "Status: " + status + "\r\n";
        if (!r.remote_mta.empty()) m += "Remote-MTA: dns; " + one_line(r.remote_mta) + "\r\n";
        if (!r.reply.empty()) m += "Diagnostic-Code: smtp; " + one_line(r.reply) + "\r\n";
    }

    // 3. The original's header section.
    m += "\r\n--" + boundary + "\r\n";
    m += "Content-Description: Undelivered message headers\r\nContent-Type: text/rfc822-headers\r\n\r\n";
    append_lines(m, header_section(in.original));
    m += "\r\n--" + boundary + "--\r\n";
    return m;
}

}  // namespace ringmail::mime
