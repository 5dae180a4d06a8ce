// api/email_compose.hpp — `ringmail::EmailCompose`, the original web platform's email_compose:
// a message (or a MIME part) built from parameters and added parts, with data(), from() and
// recipients() to hand to email_queue or email_immediate. The MIME comes from mime::compose;
// this layer reads files and makes Date, Message-ID and boundaries (clock, randomness).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "mime/composer.hpp"

namespace ringmail {

// An attachment or an HTML image: a file read from `path` when the message is composed, or
// `name` and `data` given directly (an image made in memory, a generated PDF).
struct EmailFile {
    std::string path;          // empty: `name` and `data`
    std::string name;          // the file name in the message; empty: the path's last part
    std::string data;
    std::string content_type;  // empty: from the name's extension (mime::guess_type)

    static EmailFile from_path(std::string path, std::string content_type = {});
    static EmailFile from_data(std::string name, std::string data, std::string content_type = {});
};

// What email_compose and email_send share: the header fields and the parts.
struct EmailMessage {
    // Header values as a person writes them ("Bob <bob@example.com>, c@example.net").
    // Bcc is envelope only: it never appears in the message.
    std::string to, cc, bcc, from, reply_to, sender;
    std::string subject;  // UTF-8
    std::string text;     // the text/plain body (UTF-8)
    std::string html;     // the text/html body (UTF-8)
    // Images the HTML shows, each an inline part of a multipart/related with its file name as
    // Content-ID. An image read from a path is also found by that exact path: every
    // src="PATH" in the HTML becomes src="cid:NAME". One given as name and data is found by
    // src="NAME" the same way, or by src="cid:NAME".
    std::vector<EmailFile> html_images;
    std::vector<EmailFile> attachments;
    std::vector<std::string> parts;  // ready MIME parts (fields, blank line, body), as given
    std::vector<std::pair<std::string, std::string>> extra_headers;  // "Name", "value"
    std::string charset;            // text bodies (mime::ComposeInput::charset); empty: UTF-8
    std::string transfer_encoding;  // text bodies: 7bit, 8bit, quoted-printable, base64
    std::string content_type;       // replaces the text body's media type
    bool simple_form = false;       // headers only: no MIME fields, no body
    std::string date;               // the Date field (RFC 5322 3.3); empty: now
};

class EmailCompose {
public:
    EmailCompose() = default;
    explicit EmailCompose(EmailMessage message) : m_(std::move(message)) {}

    // The text body (replaces the one given so far); from a file with the path variant.
    void add_text_part(std::string text);
    bool add_text_part_file(const std::string& path);
    // The HTML body (replaces the one so far) and images it shows (added).
    void add_html_part(std::string html, std::vector<EmailFile> images = {});
    bool add_html_part_file(const std::string& path, std::vector<EmailFile> images = {});
    void add_attachment(EmailFile file);
    // A ready MIME part, sent without any change but CRLF line ends: e.g. the data() of
    // another EmailCompose without to, from and subject.
    void add_part(std::string mime_part);

    // The MIME text. Without to, cc, bcc, from and subject it is a part (its Content-*
    // fields and body), as the original's email_compose makes one. Date, Message-ID and
    // boundaries are made on the first call and kept, so calls agree until a part is added.
    // Empty, with error() set, when a file cannot be read.
    std::string data();
    // The envelope sender: the first address of `from`; empty when it holds none.
    std::string from() const;
    // The envelope recipients: every address of to, cc and bcc, each once, in that order.
    std::vector<std::string> recipients() const;
    bool is_part() const;
    const std::string& error() const noexcept { return error_; }
    const EmailMessage& message() const noexcept { return m_; }
    EmailMessage& message() noexcept { return m_; }

    // Reads every file given by path into `data` (their names set); false, error() set,
    // when one cannot be read. data() does this itself; email_send calls it once before
    // composing a message per recipient.
    bool load_files();

private:
    EmailMessage m_;
    std::string error_;
    std::string date_, message_id_, seed_;  // fixed by the first data()
};

// A file's bytes; false when it cannot be read (`error` says why).
bool read_whole_file(const std::string& path, std::string& out, std::string& error);

}  // namespace ringmail
