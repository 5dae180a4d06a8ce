// api/email_compose.cpp — EmailCompose: files read, Date/Message-ID made, and everything
// handed to the one composer (mime/composer). Bcc goes to recipients(), never to a field.
#include "api/email_compose.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/ascii.hpp"
#include "client/send.hpp"
#include "mime/address_list.hpp"

namespace ringmail {

bool read_whole_file(const std::string& path, std::string& out, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = path + ": " + std::strerror(errno);
        return false;
    }
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) {
        error = path + ": read error";
        return false;
    }
    out = std::move(s).str();
    return true;
}

EmailFile EmailFile::from_path(std::string path, std::string content_type) {
    EmailFile f;
    f.path = std::move(path);
    f.content_type = std::move(content_type);
    return f;
}

EmailFile EmailFile::from_data(std::string name, std::string data, std::string content_type) {
    EmailFile f;
    f.name = std::move(name);
    f.data = std::move(data);
    f.content_type = std::move(content_type);
    return f;
}

void EmailCompose::add_text_part(std::string text) { m_.text = std::move(text); }

bool EmailCompose::add_text_part_file(const std::string& path) {
    std::string t;
    if (!read_whole_file(path, t, error_)) return false;
    m_.text = std::move(t);
    return true;
}

void EmailCompose::add_html_part(std::string html, std::vector<EmailFile> images) {
    m_.html = std::move(html);
    for (auto& i : images) m_.html_images.push_back(std::move(i));
}

bool EmailCompose::add_html_part_file(const std::string& path, std::vector<EmailFile> images) {
    std::string h;
    if (!read_whole_file(path, h, error_)) return false;
    add_html_part(std::move(h), std::move(images));
    return true;
}

void EmailCompose::add_attachment(EmailFile file) { m_.attachments.push_back(std::move(file)); }

void EmailCompose::add_part(std::string mime_part) { m_.parts.push_back(std::move(mime_part)); }

bool EmailCompose::load_files() {
    for (auto* list : {&m_.html_images, &m_.attachments}) {
        for (EmailFile& f : *list) {
            if (f.path.empty()) continue;
            if (!read_whole_file(f.path, f.data, error_)) return false;
            if (f.name.empty()) f.name = std::filesystem::path(f.path).filename().string();
        }
    }
    return true;
}

bool EmailCompose::is_part() const {
    return m_.to.empty() && m_.cc.empty() && m_.bcc.empty() && m_.from.empty() && m_.subject.empty();
}

std::string EmailCompose::from() const {
    const auto a = mime::extract_addresses(m_.from);
    return a.empty() ? std::string() : a.front();
}

std::vector<std::string> EmailCompose::recipients() const {
    std::vector<std::string> out;
    for (const std::string* h : {&m_.to, &m_.cc, &m_.bcc}) {
        for (std::string& a : mime::extract_addresses(*h)) {
            bool seen = false;
            for (const std::string& o : out) seen = seen || base::iequals(o, a);
            if (!seen) out.push_back(std::move(a));
        }
    }
    return out;
}

std::string EmailCompose::data() {
    if (!load_files()) return {};
    mime::ComposeInput in;
    in.from = m_.from;
    in.to = m_.to;
    in.cc = m_.cc;  // bcc: envelope only
    in.reply_to = m_.reply_to;
    in.sender = m_.sender;
    in.subject = m_.subject;
    in.text = m_.text;
    in.html = m_.html;
    in.extra_headers = m_.extra_headers;
    in.charset = m_.charset;
    in.transfer_encoding = m_.transfer_encoding;
    in.content_type = m_.content_type;
    in.headers_only = m_.simple_form;
    in.entity_only = is_part();
    in.parts = m_.parts;
    for (const EmailFile& f : m_.html_images) {
        mime::ComposeFile c{f.name, f.data, f.content_type, true, f.path.empty() ? f.name : f.path};
        in.files.push_back(std::move(c));
    }
    for (const EmailFile& f : m_.attachments) in.files.push_back({f.name, f.data, f.content_type, false, {}});
    if (seed_.empty()) {
        date_ = m_.date.empty() ? message_date() : m_.date;
        const std::string sender = from();
        message_id_ = new_message_id(sender.find('@') != std::string::npos ? sender.substr(sender.rfind('@') + 1)
                                                                            : std::string("localhost"));
        seed_ = random_hex(8);
    }
    in.date = date_;
    in.message_id = message_id_;
    in.boundary_seed = seed_;
    return mime::compose(in);
}

}  // namespace ringmail
