// tests/http/inject_test.cpp — http::parse_inject on request texts: KumoMTA's fields into
// envelopes and messages, substitutions per recipient, and every bad field refused with its
// path and nothing made.
#include "http/inject.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using ringmail::http::InjectError;
using ringmail::http::InjectLimits;
using ringmail::http::InjectParse;
using ringmail::http::parse_inject;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

void expect_bad(const std::string& json, const std::string& detail_start, InjectError kind = InjectError::BadRequest,
                const InjectLimits& limits = {}) {
    const InjectParse p = parse_inject(json, limits);
    EXPECT_EQ(p.error, kind) << json;
    EXPECT_EQ(p.detail.substr(0, detail_start.size()), detail_start) << p.detail;
    EXPECT_TRUE(p.messages.empty()) << json;
}

TEST(Inject, StringContentOneMessageForAll) {
    const InjectParse p = parse_inject(R"({"envelope_sender": "noreply@example.com",
        "content": "Subject: hello\r\n\r\nHello {{ name }}\r\n",
        "recipients": [{"email": "a@example.com"}, {"email": "b@example.org", "name": "Bee"}]})");
    ASSERT_EQ(p.error, InjectError::None) << p.detail;
    ASSERT_EQ(p.messages.size(), 1u);
    EXPECT_EQ(p.recipients, 2u);
    EXPECT_EQ(p.messages[0].sender, "noreply@example.com");
    EXPECT_EQ(p.messages[0].recipients, (std::vector<std::string>{"a@example.com", "b@example.org"}));
    EXPECT_EQ(p.messages[0].data, "Subject: hello\r\n\r\nHello {{ name }}\r\n");  // no substitutions: as given
}

TEST(Inject, StringContentWithSubstitutionsOnePerRecipient) {
    const InjectParse p = parse_inject(R"({"envelope_sender": "",
        "content": "Subject: {{greeting}}\r\n\r\nHello {{ name }} (#name#), {{ missing }}.\r\n",
        "substitutions": {"greeting": "Hi", "name": "everyone"},
        "recipients": [{"email": "a@example.com", "substitutions": {"name": "Ann", "n": 3}},
                       {"email": "b@example.org"}]})");
    ASSERT_EQ(p.error, InjectError::None) << p.detail;
    ASSERT_EQ(p.messages.size(), 2u);
    EXPECT_EQ(p.messages[0].sender, "");  // the null sender
    EXPECT_EQ(p.messages[0].recipients, std::vector<std::string>{"a@example.com"});
    EXPECT_EQ(p.messages[0].data, "Subject: Hi\r\n\r\nHello Ann (Ann), .\r\n");
    EXPECT_EQ(p.messages[1].recipients, std::vector<std::string>{"b@example.org"});
    EXPECT_EQ(p.messages[1].data, "Subject: Hi\r\n\r\nHello everyone (everyone), .\r\n");
}

TEST(Inject, ObjectContentIsComposedPerRecipient) {
    const InjectParse p = parse_inject(R"({"envelope_sender": "bounce@example.com",
        "content": {"subject": "Order {{ order }}", "from": {"email": "shop@example.com", "name": "The Shop"},
                    "reply_to": {"email": "help@example.com"},
                    "text_body": "Dear {{name}},\nyour order {{ order }} is on its way.",
                    "html_body": "<p>Dear {{name}}</p>",
                    "headers": {"X-Campaign": "c-{{ order }}"}},
        "recipients": [{"email": "ann@example.net", "name": "Ann", "substitutions": {"name": "Ann", "order": 17}},
                       {"email": "bob@example.net", "substitutions": {"name": "Bob", "order": "18"}}]})");
    ASSERT_EQ(p.error, InjectError::None) << p.detail;
    ASSERT_EQ(p.messages.size(), 2u);
    const std::string& ann = p.messages[0].data;
    EXPECT_EQ(p.messages[0].sender, "bounce@example.com");
    EXPECT_EQ(p.messages[0].recipients, std::vector<std::string>{"ann@example.net"});
    EXPECT_TRUE(contains(ann, "From: \"The Shop\" <shop@example.com>\r\n")) << ann;
    EXPECT_TRUE(contains(ann, "To: \"Ann\" <ann@example.net>\r\n")) << ann;
    EXPECT_TRUE(contains(ann, "Reply-To: help@example.com\r\n")) << ann;
    EXPECT_TRUE(contains(ann, "Subject: Order 17\r\n")) << ann;
    EXPECT_TRUE(contains(ann, "X-Campaign: c-17\r\n")) << ann;
    EXPECT_TRUE(contains(ann, "Dear Ann,\r\nyour order 17 is on its way.")) << ann;
    EXPECT_TRUE(contains(ann, "<p>Dear Ann</p>")) << ann;
    EXPECT_TRUE(contains(ann, "multipart/alternative")) << ann;
    EXPECT_TRUE(contains(ann, "Message-ID: <")) << ann;
    const std::string& bob = p.messages[1].data;
    EXPECT_TRUE(contains(bob, "To: bob@example.net\r\n")) << bob;
    EXPECT_TRUE(contains(bob, "Subject: Order 18\r\n")) << bob;
    EXPECT_FALSE(contains(bob, "Ann")) << bob;  // no recipient sees another
}

TEST(Inject, ObjectContentWithoutSubstitutionsStillOnePerRecipient) {
    const InjectParse p = parse_inject(R"({"envelope_sender": "a@example.com",
        "content": {"subject": "s", "text_body": "t"},
        "recipients": [{"email": "x@example.com"}, {"email": "y@example.com"}]})");
    ASSERT_EQ(p.error, InjectError::None) << p.detail;
    ASSERT_EQ(p.messages.size(), 2u);
    EXPECT_TRUE(contains(p.messages[0].data, "From: a@example.com\r\n"));  // no from: the envelope sender
    EXPECT_TRUE(contains(p.messages[1].data, "To: y@example.com\r\n"));
}

TEST(Inject, DisplayNamesCannotAddFields) {
    const InjectParse p = parse_inject(R"({"envelope_sender": "a@example.com",
        "content": {"from": {"email": "a@example.com", "name": "Evil\r\nBcc: x@example.org \"q\""}, "text_body": "t"},
        "recipients": [{"email": "x@example.com"}]})");
    ASSERT_EQ(p.error, InjectError::None) << p.detail;
    EXPECT_FALSE(contains(p.messages[0].data, "\r\nBcc:")) << p.messages[0].data;
    EXPECT_TRUE(contains(p.messages[0].data, R"(From: "Evil  Bcc: x@example.org \"q\"" <a@example.com>)"))
        << p.messages[0].data;
}

TEST(Inject, Attachments) {
    const InjectParse p = parse_inject(R"({"envelope_sender": "a@example.com",
        "content": {"text_body": "see attached", "html_body": "<img src=\"cid:pixel\">",
                    "attachments": [
                      {"data": "aGVsbG8gd29ybGQ=", "base64": true, "content_type": "application/octet-stream",
                       "file_name": "hello.bin"},
                      {"data": "plain text", "content_type": "text/plain", "file_name": "note.txt"},
                      {"data": "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64": true,
                       "content_type": "image/gif", "content_id": "pixel"}]},
        "recipients": [{"email": "x@example.com"}]})");
    ASSERT_EQ(p.error, InjectError::None) << p.detail;
    const std::string& m = p.messages[0].data;
    EXPECT_TRUE(contains(m, "multipart/mixed")) << m;
    EXPECT_TRUE(contains(m, "multipart/related")) << m;
    EXPECT_TRUE(contains(m, "filename=\"hello.bin\"")) << m;
    EXPECT_TRUE(contains(m, "aGVsbG8gd29ybGQ=")) << m;  // "hello world", decoded and encoded again
    EXPECT_TRUE(contains(m, "plain text")) << m;
    EXPECT_TRUE(contains(m, "Content-ID: <pixel>")) << m;
}

TEST(Inject, BadJsonAndTypesNameTheField) {
    expect_bad("{\"envelope_sender\": ", "request: not valid JSON");
    expect_bad("[1, 2]", "request: expected a JSON object, got array");
    expect_bad(R"({"content": "x", "recipients": [{"email": "a@example.com"}]})", "envelope_sender: missing");
    expect_bad(R"({"envelope_sender": 5, "content": "x", "recipients": [{"email": "a@example.com"}]})",
               "envelope_sender: expected a string, got number");
    expect_bad(R"({"envelope_sender": "a@example.com", "recipients": [{"email": "a@example.com"}]})",
               "content: missing");
    expect_bad(R"({"envelope_sender": "a@example.com", "content": 1, "recipients": [{"email": "a@example.com"}]})",
               "content: expected a string or an object, got number");
    expect_bad(R"({"envelope_sender": "a@example.com", "content": "x"})", "recipients: missing");
    expect_bad(R"({"envelope_sender": "a@example.com", "content": "x", "recipients": []})", "recipients: empty");
    expect_bad(R"({"envelope_sender": "a@example.com", "content": "x", "recipients": ["a@example.com"]})",
               "recipients[0]: expected an object, got string");
    expect_bad(R"({"envelope_sender": "a@example.com", "content": "x", "recipients": [{"name": "A"}]})",
               "recipients[0].email: missing");
    expect_bad(R"({"envelope_sender": "a@example.com", "content": "x",
                   "recipients": [{"email": "a@example.com", "substitutions": {"x": [1]}}]})",
               "recipients[0].substitutions.x: expected a string, number or boolean, got array");
    expect_bad(R"({"envelope_sender": "a@example.com", "content": "x", "substitutions": "no",
                   "recipients": [{"email": "a@example.com"}]})",
               "substitutions: expected an object, got string");
    expect_bad(R"({"envelope_sender": "a@example.com", "content": {"subject": 3},
                   "recipients": [{"email": "a@example.com"}]})",
               "content.subject: expected a string, got number");
    expect_bad(R"({"envelope_sender": "a@example.com", "content": {"headers": {"X-A": 1}},
                   "recipients": [{"email": "a@example.com"}]})",
               "content.headers.X-A: expected a string, got number");
    expect_bad(R"({"envelope_sender": "a@example.com", "content": {"attachments": [{"data": "%%", "base64": true}]},
                   "recipients": [{"email": "a@example.com"}]})",
               "content.attachments[0].data: not valid base64");
    expect_bad(R"({"envelope_sender": "a@example.com", "content": {"attachments": [{"base64": true}]},
                   "recipients": [{"email": "a@example.com"}]})",
               "content.attachments[0].data: missing");
}

TEST(Inject, BadAddressesNameTheField) {
    expect_bad(R"({"envelope_sender": "a@example.com", "content": "x",
                   "recipients": [{"email": "a@example.com"}, {"email": "b@example.com"}, {"email": "not an address"}]})",
               "recipients[2].email: not an address: ");
    expect_bad(R"({"envelope_sender": "no at sign", "content": "x", "recipients": [{"email": "a@example.com"}]})",
               "envelope_sender: not an address: ");
    expect_bad(R"({"envelope_sender": "a@example.com", "content": "x", "recipients": [{"email": ""}]})",
               "recipients[0].email: not an address: ");
    expect_bad(R"({"envelope_sender": "a@example.com", "content": {"from": {"email": "x>y@example.com"}},
                   "recipients": [{"email": "a@example.com"}]})",
               "content.from.email: not an address: ");
}

TEST(Inject, SizeLimits) {
    InjectLimits limits;
    limits.max_message_size = 100;
    const std::string big(101, 'x');
    expect_bad(R"({"envelope_sender": "a@example.com", "content": ")" + big + R"(",
                   "recipients": [{"email": "a@example.com"}]})",
               "content: the message is 101 octets, over the queue's limit of 100", InjectError::TooBig, limits);
    expect_bad(R"({"envelope_sender": "a@example.com", "content": "{{x}}",
                   "recipients": [{"email": "a@example.com", "substitutions": {"x": "short"}},
                                  {"email": "b@example.com", "substitutions": {"x": ")" + big + R"("}}]})",
               "recipients[1]: the message is 101 octets", InjectError::TooBig, limits);
    limits.max_message_size = 0;
    limits.max_total_size = 150;
    expect_bad(R"({"envelope_sender": "a@example.com", "content": "{{x}}",
                   "recipients": [{"email": "a@example.com", "substitutions": {"x": ")" + std::string(80, 'y') +
                   R"("}}, {"email": "b@example.com", "substitutions": {"x": ")" + std::string(80, 'z') + R"("}}]})",
               "recipients[1]: the request makes over 150 octets", InjectError::TooBig, limits);
}

}  // namespace
