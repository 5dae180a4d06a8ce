// tests/api/email_test.cpp — the original platform's mail calls (api/): email_compose's parts,
// data(), from(), recipients(); email_send / email_queue / email_batch on a queue in a fresh
// temporary directory (ids, status, merge per recipient, the 8 MB limit, one commit per
// batch); immediate sends to a scripted SMTP server on loopback.
#include "api/email_queue.hpp"
#include "api/email_smtp.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "mime/stream_parser.hpp"
#include "relay/sqlite_store.hpp"

namespace {

using namespace ringmail;

bool has(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }
std::string head_of(const std::string& m) { return m.substr(0, m.find("\r\n\r\n") + 2); }

class EmailApi : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (std::filesystem::temp_directory_path() / "ringmail-api-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        relay::SqliteStoreOptions o;
        o.dir = dir_ + "/queue";
        store_ = relay::SqliteStore::open(o);
        queue_ = std::make_unique<MailQueue>(*store_);
    }
    void TearDown() override {
        queue_.reset();
        store_.reset();
        std::filesystem::remove_all(dir_);
    }
    std::string write(const std::string& name, const std::string& data) {
        const std::string path = dir_ + "/" + name;
        std::ofstream(path, std::ios::binary) << data;
        return path;
    }
    std::string body(const std::string& id) {
        relay::Body b;
        EXPECT_TRUE(store_->open_body(*relay::MessageId::parse(id), b));
        std::string out(b.size(), '\0');
        EXPECT_EQ(::pread(b.fd(), out.data(), out.size(), static_cast<off_t>(b.offset())),
                  static_cast<ssize_t>(out.size()));
        return out;
    }
    relay::MessageInfo show(const std::string& id) {
        relay::MessageInfo info;
        EXPECT_TRUE(store_->show(*relay::MessageId::parse(id), info));
        return info;
    }
    std::size_t queued() {
        std::vector<relay::MessageSummary> all;
        EXPECT_TRUE(store_->list({}, all));
        return all.size();
    }
    EmailSend basic() {
        EmailSend m;
        m.from = "\"Site\" <site@example.org>";
        m.to = "John <john@example.com>";
        m.subject = "Hello";
        m.text = "Hello there.";
        return m;
    }

    std::string dir_;
    std::unique_ptr<relay::SqliteStore> store_;
    std::unique_ptr<MailQueue> queue_;
};

// ---- email_compose ----

TEST_F(EmailApi, ComposeBccOnlyInRecipients) {
    EmailMessage m;
    m.from = "Alice <alice@example.org>";
    m.to = "bob@example.com, Carol <carol@example.com>";
    m.cc = "dave@example.com";
    m.bcc = "hidden@example.net, BOB@example.com";
    m.subject = "s";
    m.text = "t";
    EmailCompose c(m);
    const std::string data = c.data();
    EXPECT_FALSE(has(head_of(data), "hidden")) << data;
    EXPECT_FALSE(has(head_of(data), "Bcc"));
    EXPECT_EQ(c.from(), "alice@example.org");
    EXPECT_EQ(c.recipients(), (std::vector<std::string>{"bob@example.com", "carol@example.com", "dave@example.com",
                                                        "hidden@example.net"}));
    EXPECT_EQ(c.data(), data);  // Date, Message-ID and boundaries are kept
}

TEST_F(EmailApi, ComposeHtmlImagesByPathAndByData) {
    const std::string logo = write("logo.png", "PNGDATA");
    EmailCompose c;
    c.message().from = "a@example.org";
    c.message().to = "b@example.com";
    c.message().subject = "images";
    c.add_text_part("plain");
    c.add_html_part("<img src=\"" + logo + "\"><img src=\"gen.jpg\"><img src=\"cid:gen.jpg\">",
                    {EmailFile::from_path(logo), EmailFile::from_data("gen.jpg", "JPEGDATA")});
    c.add_attachment(EmailFile::from_data("r.csv", "a,b\r\n", "text/csv"));
    c.add_attachment(EmailFile::from_path(write("doc.pdf", "%PDF-1.4")));
    const std::string data = c.data();
    ASSERT_FALSE(data.empty()) << c.error();
    const mime::ParsedMail p = mime::parse_message(data);
    EXPECT_TRUE(p.message_is_html);
    EXPECT_EQ(p.message, "<img src=\"cid:logo.png\"><img src=\"cid:gen.jpg\"><img src=\"cid:gen.jpg\">\r\n");
    EXPECT_EQ(p.attachments.at("logo.png").data, "PNGDATA");
    EXPECT_EQ(p.attachments.at("gen.jpg").data, "JPEGDATA");
    EXPECT_EQ(p.attachments.at("r.csv").data, "a,b\r\n");
    EXPECT_EQ(p.attachments.at("doc.pdf").data, "%PDF-1.4");
    EXPECT_TRUE(has(data, "multipart/mixed"));
    EXPECT_TRUE(has(data, "multipart/alternative"));
    EXPECT_TRUE(has(data, "multipart/related"));
    EXPECT_FALSE(has(data, logo));  // the path is gone from the HTML
}

TEST_F(EmailApi, ComposeWithoutAddressesIsAPartForAnother) {
    EmailCompose part;
    part.add_text_part("inner text");
    const std::string inner = part.data();
    EXPECT_TRUE(part.is_part());
    EXPECT_TRUE(inner.starts_with("Content-Type: text/plain")) << inner;
    EmailCompose outer(EmailMessage{});
    outer.message().from = "a@example.org";
    outer.message().to = "b@example.com";
    outer.message().subject = "outer";
    outer.add_text_part("outer text");
    outer.add_part(inner);
    const std::string data = outer.data();
    EXPECT_TRUE(has(data, "multipart/mixed"));
    EXPECT_TRUE(has(data, inner));
}

TEST_F(EmailApi, ComposeMissingFileIsAnError) {
    EmailCompose c;
    c.message().from = "a@example.org";
    c.message().to = "b@example.com";
    c.add_attachment(EmailFile::from_path(dir_ + "/absent.txt"));
    EXPECT_EQ(c.data(), "");
    EXPECT_TRUE(has(c.error(), "absent.txt")) << c.error();
}

// ---- email_send, email_status ----

TEST_F(EmailApi, SendQueuesAndStatusFollowsTheStore) {
    EmailSend m = basic();
    m.cc = "cc@example.com";
    m.bcc = "bcc@example.net";
    m.priority = relay::Priority::High;
    m.not_before = 4102444800;  // 2100-01-01
    m.reply_to = "replies@example.org";
    m.sender = "other@example.org";
    m.extra_headers = {{"X-Campaign", "7"}};
    const EmailResult r = email_send(*queue_, m);
    ASSERT_TRUE(r) << r.error;
    ASSERT_EQ(r.id.size(), 16u);
    EXPECT_EQ(r.ids, std::vector<std::string>{r.id});
    EXPECT_EQ(email_status(*queue_, r.id), "queued");
    const relay::MessageInfo info = show(r.id);
    EXPECT_EQ(info.sender, "site@example.org");
    EXPECT_EQ(info.priority, relay::Priority::High);
    ASSERT_EQ(info.recipients.size(), 3u);
    EXPECT_EQ(info.recipients[2].address, "bcc@example.net");
    EXPECT_EQ(info.recipients[0].next_attempt, 4102444800);
    const std::string data = body(r.id);
    EXPECT_TRUE(has(data, "Reply-To: replies@example.org\r\n"));
    EXPECT_TRUE(has(data, "Sender: other@example.org\r\n"));
    EXPECT_TRUE(has(data, "X-Campaign: 7\r\n"));
    EXPECT_FALSE(has(data, "bcc@example.net"));

    std::vector<relay::AttemptResult> results;
    for (std::uint32_t i = 0; i < 3; ++i)
        results.push_back({*relay::MessageId::parse(r.id), i, relay::Outcome::Sent, "250 ok", 0});
    ASSERT_TRUE(store_->record(results));
    EXPECT_EQ(email_status(*queue_, r.id), "sent");

    const EmailResult r2 = email_send(*queue_, basic());
    ASSERT_TRUE(store_->record(std::vector<relay::AttemptResult>{
        {*relay::MessageId::parse(r2.id), 0, relay::Outcome::PermFail, "550 no such user", 0}}));
    EXPECT_EQ(email_status(*queue_, r2.id), "error");
    EXPECT_EQ(email_status(*queue_, "0000000000000001"), "");
    EXPECT_EQ(email_status(*queue_, "not an id"), "");
}

TEST_F(EmailApi, SendRefusesWhatItCannotQueue) {
    EmailSend m = basic();
    m.from = "no address here";
    EXPECT_FALSE(email_send(*queue_, m));
    m = basic();
    m.to.clear();
    EXPECT_FALSE(email_send(*queue_, m));
    m = basic();
    m.smarthost.host = "smtp.example.com";
    m.smarthost.ca_file = "cas.pem";  // the relay checks with [relay] ca_file: not kept
    EXPECT_TRUE(has(email_send(*queue_, m).error, "immediate"));
    m.smarthost.ca_file.clear();
    m.smarthost.port = 0;
    EXPECT_TRUE(has(email_send(*queue_, m).error, "port"));
    m = basic();
    m.attachments.push_back(EmailFile::from_path(dir_ + "/absent.bin"));
    EXPECT_TRUE(has(email_send(*queue_, m).error, "absent.bin"));
    EXPECT_EQ(queued(), 0u);
}

// The original's per-message host, port, user, password, TLS and timeout stay with a
// queued message (the relay delivers it through them); without one, the relay's route.
TEST_F(EmailApi, QueuedMessageKeepsItsOwnSmarthost) {
    EmailSend m = basic();
    m.smarthost.host = "smtp.example.com";
    m.smarthost.port = 587;
    m.smarthost.user = "app";
    m.smarthost.password = "s3cret, with: commas";
    m.smarthost.tls = smtp::Mode::StartTls;
    m.smarthost.timeout_s = 20;
    m.smarthost.verify = false;
    m.merge = {{"to@example.com", {{"Name", "To"}}}};
    const EmailResult r = email_send(*queue_, m);
    ASSERT_TRUE(r) << r.error;
    const relay::MessageInfo info = show(r.id);
    ASSERT_TRUE(info.route.has_value());
    EXPECT_EQ(info.route->host, "smtp.example.com");
    EXPECT_EQ(info.route->port, 587);
    EXPECT_EQ(info.route->tls, SmarthostTls::StartTls);
    EXPECT_EQ(info.route->user, "app");
    EXPECT_EQ(info.route->password, "s3cret, with: commas");
    EXPECT_EQ(info.route->timeout_s, 20u);
    EXPECT_FALSE(info.route->verify);
    EXPECT_FALSE(show(email_send(*queue_, basic()).id).route.has_value());

    EmailQueued q;
    q.data = "Subject: x\r\n\r\nbody\r\n";
    q.from = "site@example.org";
    q.recipients = {"a@example.com"};
    q.smarthost.host = "::1";
    q.smarthost.port = 465;
    q.smarthost.tls = smtp::Mode::Tls;
    const EmailResult rq = email_queue(*queue_, q);
    ASSERT_TRUE(rq) << rq.error;
    const relay::MessageInfo qi = show(rq.id);
    ASSERT_TRUE(qi.route.has_value());
    EXPECT_EQ(qi.route->tls, SmarthostTls::Smtps);
    EXPECT_EQ(qi.route->label(), "[::1]:465");
}

TEST_F(EmailApi, QueuedMessagesHaveTheLimitImmediateOnesDoNot) {
    MailQueue small(*store_, 4096);
    EmailSend m = basic();
    m.attachments.push_back(EmailFile::from_data("big.bin", std::string(8000, 'x')));
    const EmailResult r = email_send(small, m);
    EXPECT_FALSE(r);
    EXPECT_TRUE(has(r.error, "limit")) << r.error;
    EXPECT_EQ(queued(), 0u);
    EXPECT_EQ(kEmailMaxQueued, 8u * 1024 * 1024);
}

// ---- merge ----

TEST_F(EmailApi, MergeGivesEachRecipientItsOwnMessage) {
    EmailSend m = basic();
    m.to = "john@example.com, jane@example.com";
    m.bcc = "anon@example.net";
    m.subject = "For #FirstName#";
    m.text = "Dear #FirstName# #LastName##Missing#,";
    m.html = "<p>Dear #FirstName#</p>";
    m.tokens = {{"FirstName", "Lasso User"}, {"LastName", ""}};
    m.merge = {{"John@Example.com", {{"FirstName", "John"}, {"LastName", "Doe"}}},
               {"jane@example.com", {{"FirstName", "Jane"}, {"LastName", "Roe"}}}};
    const EmailResult r = email_send(*queue_, m);
    ASSERT_TRUE(r) << r.error;
    ASSERT_EQ(r.ids.size(), 3u);
    EXPECT_EQ(r.id, r.ids[0]);
    struct Want {
        std::string address, first, full;
    };
    const std::vector<Want> want = {{"john@example.com", "John", "John Doe"},
                                    {"jane@example.com", "Jane", "Jane Roe"},
                                    {"anon@example.net", "Lasso User", "Lasso User "}};
    for (std::size_t i = 0; i < 3; ++i) {
        const relay::MessageInfo info = show(r.ids[i]);
        ASSERT_EQ(info.recipients.size(), 1u);
        EXPECT_EQ(info.recipients[0].address, want[i].address);
        const mime::ParsedMail p = mime::parse_message(body(r.ids[i]));
        const std::string& first = want[i].first;
        EXPECT_EQ(*p.subject, "For " + first);
        EXPECT_EQ(p.message, "<p>Dear " + first + "</p>\r\n");
        EXPECT_TRUE(has(body(r.ids[i]), "Dear " + want[i].full + ",\r\n")) << body(r.ids[i]);
        EXPECT_TRUE(has(body(r.ids[i]), "To: john@example.com, jane@example.com"));
    }
}

TEST_F(EmailApi, TokensWithoutMergeMakeOneMessage) {
    EmailSend m = basic();
    m.to = "a@example.com, b@example.com";
    m.text = "Hi #Who#";
    m.tokens = {{"Who", "all"}};
    const EmailResult r = email_send(*queue_, m);
    ASSERT_EQ(r.ids.size(), 1u);
    EXPECT_EQ(show(r.id).recipients.size(), 2u);
    EXPECT_TRUE(has(body(r.id), "Hi all\r\n"));
}

TEST_F(EmailApi, WithoutTokensMarkersStay) {
    EmailSend m = basic();
    m.text = "Order #1234# ships";
    EXPECT_TRUE(has(body(email_send(*queue_, m).id), "Order #1234# ships"));
}

TEST_F(EmailApi, EmailMergeOnAnyText) {
    EXPECT_EQ(email_merge("#A#-#B#", {{"A", "ä"}}, "iso-8859-1", "quoted-printable"), "=E4-");
}

// ---- email_queue, email_batch ----

TEST_F(EmailApi, QueueTakesAComposedMessage) {
    EmailCompose c;
    c.message().from = "site@example.org";
    c.message().to = "x@example.com, y@example.com";
    c.message().subject = "composed";
    c.add_text_part("Hello #Name#");
    EmailQueued q;
    q.data = c.data();
    q.from = c.from();
    q.recipients = c.recipients();
    q.merge = {{"y@example.com", {{"Name", "Y"}}}};
    q.priority = relay::Priority::Low;
    const EmailResult r = email_queue(*queue_, q);
    ASSERT_TRUE(r) << r.error;
    ASSERT_EQ(r.ids.size(), 2u);
    EXPECT_TRUE(has(body(r.ids[0]), "Hello \r\n"));
    EXPECT_TRUE(has(body(r.ids[1]), "Hello Y\r\n"));
    EXPECT_EQ(show(r.ids[1]).priority, relay::Priority::Low);
    EXPECT_EQ(show(r.ids[1]).recipients[0].address, "y@example.com");
}

TEST_F(EmailApi, BatchIsOneCommit) {
    const std::uint64_t before = store_->commits();
    const EmailResult r = email_batch(*queue_, [&](EmailBatch& b) {
        for (int i = 0; i < 50; ++i) {
            EmailSend m = basic();
            m.to = "user" + std::to_string(i) + "@example.com";
            ASSERT_TRUE(b.send(m));
        }
        EXPECT_EQ(b.size(), 50u);
        EXPECT_EQ(queued(), 0u);  // nothing on disk before the commit
    });
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.ids.size(), 50u);
    EXPECT_EQ(store_->commits() - before, 1u);
    EXPECT_EQ(queued(), 50u);
    EXPECT_EQ(show(r.ids[49]).recipients[0].address, "user49@example.com");
}

TEST_F(EmailApi, BatchErrorAddsNothingOfThatMessage) {
    MailQueue small(*store_, 4096);
    const EmailResult r = email_batch(small, [&](EmailBatch& b) {
        EXPECT_TRUE(b.send(basic()));
        EmailSend bad = basic();
        bad.to = "b@example.com, a@example.com";
        bad.text = "#x#";
        bad.merge = {{"a@example.com", {{"x", std::string(5000, 'x')}}}};  // b's fits, a's does not
        EXPECT_FALSE(b.send(bad));
        EXPECT_EQ(b.size(), 1u);
    });
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.ids.size(), 1u);
    EXPECT_EQ(queued(), 1u);
}

// ---- immediate ----

// A scripted SMTP server on loopback for one connection: 250 to everything, 354 to DATA;
// keeps what came after DATA.
class FakeServer {
public:
    FakeServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 4) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
            std::abort();
        port_ = ntohs(a.sin_port);
        timeval tv{20, 0};  // a client that never comes must not hang the test
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeServer() {
        thread_.join();
        ::close(fd_);
    }
    int port() const { return port_; }
    std::string data() {
        thread_.join();
        thread_ = std::thread([] {});
        return data_;
    }

private:
    void put(int c, std::string_view s) { (void)!::write(c, s.data(), s.size()); }
    void serve() {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        put(c, "220 fake ESMTP\r\n");
        std::string in;
        bool in_data = false;
        char buf[65536];
        for (;;) {
            const ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) break;
            in.append(buf, static_cast<std::size_t>(n));
            for (;;) {
                if (in_data) {
                    const std::size_t end = in.find("\r\n.\r\n");
                    if (end == std::string::npos) break;
                    data_ = in.substr(0, end + 2);
                    in.erase(0, end + 5);
                    in_data = false;
                    put(c, "250 2.0.0 queued\r\n");
                    continue;
                }
                const std::size_t eol = in.find("\r\n");
                if (eol == std::string::npos) break;
                const std::string line = in.substr(0, eol);
                in.erase(0, eol + 2);
                if (line.starts_with("EHLO")) put(c, "250-fake\r\n250 PIPELINING\r\n");
                else if (line.starts_with("DATA")) {
                    put(c, "354 go on\r\n");
                    in_data = true;
                } else if (line.starts_with("QUIT")) {
                    put(c, "221 bye\r\n");
                    ::close(c);
                    return;
                } else put(c, "250 ok\r\n");
            }
        }
        ::close(c);
    }
    int fd_ = -1;
    int port_ = 0;
    std::thread thread_;
    std::string data_;
};

TEST_F(EmailApi, ImmediateSendsNowPastTheLimitAndQueuesNothing) {
    FakeServer server;
    MailQueue small(*store_, 4096);
    EmailSend m = basic();
    m.immediate = true;
    m.smarthost.host = "127.0.0.1";
    m.smarthost.port = server.port();
    m.smarthost.timeout_s = 10;
    m.attachments.push_back(EmailFile::from_data("big.bin", std::string(8000, 'x')));
    const EmailResult r = email_send(small, m);
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.id, "");
    ASSERT_EQ(r.sent.size(), 1u);
    EXPECT_TRUE(r.sent[0].ok());
    ASSERT_EQ(r.sent[0].recipients.size(), 1u);
    EXPECT_TRUE(r.sent[0].recipients[0].accepted);
    const std::string got = server.data();
    EXPECT_TRUE(has(got, "Subject: Hello\r\n"));
    EXPECT_EQ(mime::parse_message(got).attachments.at("big.bin").data, std::string(8000, 'x'));
    EXPECT_EQ(queued(), 0u);
}

TEST_F(EmailApi, EmailImmediateSendsComposedData) {
    FakeServer server;
    EmailQueued q;
    q.data = "Subject: raw\r\n\r\nraw body #X#\r\n";
    q.from = "a@example.org";
    q.recipients = {"b@example.com"};
    q.tokens = {{"X", "merged"}};
    q.smarthost.host = "127.0.0.1";
    q.smarthost.port = server.port();
    const EmailResult r = email_immediate(q);
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(server.data(), "Subject: raw\r\n\r\nraw body merged\r\n");
}

// The original's email_smtp: open, a raw command checked against the code expected, a
// message, close.
TEST_F(EmailApi, EmailSmtpOpenCommandSendClose) {
    FakeServer server;
    Smarthost host;
    host.host = "127.0.0.1";
    host.port = server.port();
    host.timeout_s = 10;
    EmailSmtp smtp(host);
    ASSERT_TRUE(smtp.open()) << smtp.error();
    EXPECT_TRUE(smtp.command("NOOP", 250));
    EXPECT_FALSE(smtp.command("NOOP", 354));  // the server said 250
    EXPECT_EQ(smtp.last_reply().code, 250);
    EXPECT_FALSE(smtp.command("NOOP\r\nRSET"));  // one line only
    const std::string message = "Subject: low level\r\n\r\n.dot line\r\n";
    ASSERT_TRUE(smtp.send("a@example.org", {"b@example.com"}, message)) << smtp.last_result().error;
    EXPECT_TRUE(smtp.last_result().recipients.at(0).accepted);
    smtp.close();
    EXPECT_FALSE(smtp.is_open());
    // The fake server keeps DATA as it came: the dot doubled (RFC 5321 4.5.2).
    EXPECT_EQ(server.data(), "Subject: low level\r\n\r\n..dot line\r\n");
}

TEST_F(EmailApi, EmailSmtpOpenFailsWithAReason) {
    Smarthost host;
    host.host = "127.0.0.1";
    host.port = 1;  // nothing listens there
    host.timeout_s = 5;
    EmailSmtp smtp;
    EXPECT_FALSE(smtp.open(host));
    EXPECT_FALSE(smtp.error().empty());
    EXPECT_FALSE(smtp.command("NOOP"));
}

}  // namespace
