// tests/mime/address_list_test.cpp — RFC 5322 3.4 address lists: the examples of RFC 5322
// appendix A, obsolete forms (4.4), RFC 2047 names, UTF-8, and broken input read best effort.
#include "mime/address_list.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ringmail::mime {
namespace {

using Strings = std::vector<std::string>;

std::vector<std::pair<std::string, std::string>> pairs(std::string_view header) {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto& a : parse_address_list(header)) out.emplace_back(a.name, a.address);
    return out;
}
using Pairs = std::vector<std::pair<std::string, std::string>>;

// The example of issue 3 and DESIGN.md.
TEST(AddressList, ExtractsTheIssueExample) {
    EXPECT_EQ(extract_addresses("you@there.com, \"Bob\" <bob@example.com>"),
              (Strings{"you@there.com", "bob@example.com"}));
    EXPECT_EQ(pairs("you@there.com, \"Bob\" <bob@example.com>"),
              (Pairs{{"", "you@there.com"}, {"Bob", "bob@example.com"}}));
}

// RFC 5322 A.1.1 - A.1.3.
TEST(AddressList, Rfc5322AppendixA1) {
    EXPECT_EQ(pairs("John Doe <jdoe@machine.example>"), (Pairs{{"John Doe", "jdoe@machine.example"}}));
    EXPECT_EQ(pairs("\"Joe Q. Public\" <john.q.public@example.com>"),
              (Pairs{{"Joe Q. Public", "john.q.public@example.com"}}));
    EXPECT_EQ(pairs("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>"),
              (Pairs{{"Mary Smith", "mary@x.test"}, {"", "jdoe@example.org"}, {"Who?", "one@y.test"}}));
    EXPECT_EQ(pairs("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>"),
              (Pairs{{"", "boss@nil.test"}, {"Giant; \"Big\" Box", "sysservices@example.net"}}));
    EXPECT_EQ(pairs("Pete <pete@silly.example>"), (Pairs{{"Pete", "pete@silly.example"}}));
}

TEST(AddressList, GroupsWithMembersAndEmptyGroups) {
    EXPECT_EQ(pairs("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"),
              (Pairs{{"Ed Jones", "c@a.test"}, {"", "joe@where.test"}, {"John", "jdoe@one.test"}}));
    EXPECT_TRUE(parse_address_list("undisclosed-recipients:;").empty());
    EXPECT_TRUE(parse_address_list("Undisclosed recipients:;").empty());
    EXPECT_TRUE(parse_address_list("undisclosed-recipients:").empty());
    EXPECT_EQ(extract_addresses("a@b, friends: c@d, \"E\" <e@f>; g@h"), (Strings{"a@b", "c@d", "e@f", "g@h"}));
}

// RFC 5322 A.5: comments everywhere, nested, with quoted pairs.
TEST(AddressList, Rfc5322AppendixA5Comments) {
    EXPECT_EQ(pairs("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
              (Pairs{{"Pete", "pete@silly.test"}}));
    EXPECT_EQ(pairs("A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
                    "         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)"),
              (Pairs{{"Chris Jones", "c@public.example"}, {"", "joe@example.org"}, {"John", "jdoe@one.test"}}));
    EXPECT_TRUE(parse_address_list("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;").empty());
    EXPECT_EQ(pairs("bob@example.com (Bob (the builder) Smith)"),
              (Pairs{{"Bob (the builder) Smith", "bob@example.com"}}));
}

// RFC 5322 A.6.1 and 4.4: routes, CFWS around dots, empty members.
TEST(AddressList, ObsoleteSyntax) {
    EXPECT_EQ(pairs("Joe Q. Public <john.q.public@example.com>"),
              (Pairs{{"Joe Q. Public", "john.q.public@example.com"}}));
    EXPECT_EQ(pairs("Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example"),
              (Pairs{{"Mary Smith", "mary@example.net"}, {"", "jdoe@test.example"}}));
    EXPECT_EQ(extract_addresses("<@a,@b:user@d>, x@y"), (Strings{"user@d", "x@y"}));
    EXPECT_EQ(extract_addresses("John . Doe @ example . com"), (Strings{"John.Doe@example.com"}));
}

TEST(AddressList, QuotedStringsWithCommasAndAngleBrackets) {
    EXPECT_EQ(pairs("\"Doe, John <boss>\" <jd@example.com>, \"a@b, c\" <x@y.z>"),
              (Pairs{{"Doe, John <boss>", "jd@example.com"}, {"a@b, c", "x@y.z"}}));
    // Quoted local parts stay quoted only when they must.
    EXPECT_EQ(extract_addresses("\"john doe\"@example.com, \"plain\"@example.com"),
              (Strings{"\"john doe\"@example.com", "plain@example.com"}));
    EXPECT_EQ(extract_addresses("<\"a\\\"b\"@example.com>"), (Strings{"\"a\\\"b\"@example.com"}));
}

TEST(AddressList, Rfc2047DisplayNames) {
    EXPECT_EQ(pairs("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>"),
              (Pairs{{"Keld J\xC3\xB8rn Simonsen", "keld@dkuug.dk"}}));
    EXPECT_EQ(pairs("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>"),
              (Pairs{{"Andr\xC3\xA9 Pirard", "PIRARD@vm1.ulg.ac.be"}}));
    // In quoted strings (forbidden by RFC 2047 5, common), and with a comma in the word.
    EXPECT_EQ(pairs("\"=?utf-8?q?caf=C3=A9?=\" <c@x.fr>, =?utf-8?q?Smith,_John?= <js@x.org>"),
              (Pairs{{"caf\xC3\xA9", "c@x.fr"}, {"Smith, John", "js@x.org"}}));
    EXPECT_EQ(pairs("joe@x.org (=?utf-8?q?Jo=C3=A9?=)"), (Pairs{{"Jo\xC3\xA9", "joe@x.org"}}));
}

TEST(AddressList, Utf8LocalPartsAndDomains) {
    EXPECT_EQ(pairs("J\xC3\xB6rg <j\xC3\xB6rg@m\xC3\xBCller.de>, \xE7\x94\xA8\xE6\x88\xB7@\xE4\xBE\x8B\xE5\xAD\x90.cn"),
              (Pairs{{"J\xC3\xB6rg", "j\xC3\xB6rg@m\xC3\xBCller.de"},
                     {"", "\xE7\x94\xA8\xE6\x88\xB7@\xE4\xBE\x8B\xE5\xAD\x90.cn"}}));
    // 8-bit bytes that are not UTF-8 are read as Latin-1.
    EXPECT_EQ(pairs("J\xF6rg <j@x.de>"), (Pairs{{"J\xC3\xB6rg", "j@x.de"}}));
}

TEST(AddressList, AddressesWithoutDomainKeptAsGiven) {
    EXPECT_EQ(extract_addresses("postmaster, <root>, Admin <admin>"), (Strings{"postmaster", "root", "admin"}));
    EXPECT_EQ(pairs("<admin@[192.0.2.1]>"), (Pairs{{"", "admin@[192.0.2.1]"}}));
}

TEST(AddressList, BrokenInputIsBestEffort) {
    EXPECT_EQ(extract_addresses("Bob <bob@x.org"), (Strings{"bob@x.org"}));                    // no '>'
    EXPECT_EQ(extract_addresses("Bob <bob@x.org, c@d"), (Strings{"bob@x.org", "c@d"}));        // no '>'
    EXPECT_EQ(extract_addresses("A <a@x> B <b@y>"), (Strings{"a@x", "b@y"}));                  // no ','
    EXPECT_EQ(pairs("Bob Smith bob@x.org"), (Pairs{{"Bob Smith", "bob@x.org"}}));              // no <>
    EXPECT_EQ(extract_addresses("<<a@b>>, >c@d<"), (Strings{"a@b", "c@d"}));
    EXPECT_EQ(extract_addresses("<mailto:a@b>"), (Strings{"a@b"}));
    EXPECT_EQ(pairs("\"unterminated <a@b>"), (Pairs{{"unterminated", "a@b"}}));
    EXPECT_EQ(extract_addresses("a@b (unterminated comment, c@d"), (Strings{"a@b", "c@d"}));
    EXPECT_EQ(extract_addresses("a@[1.2.3.4, b@c"), (Strings{"a@1.2.3.4", "b@c"}));
    EXPECT_TRUE(extract_addresses("").empty());
    EXPECT_TRUE(extract_addresses(" ,,; : <> \"\" ()").empty());
    EXPECT_EQ(extract_addresses("a@b,\r\n\tc@d"), (Strings{"a@b", "c@d"}));
}

TEST(AddressList, RandomBytesNeverCrashAndStayBounded) {
    std::mt19937 rng(12345);
    const std::string alphabet = "<>()[]:;@,.\"\\ \t\r\nab=?\x80\xC3";
    for (int round = 0; round < 3000; ++round) {
        std::string s(rng() % 200, ' ');
        for (auto& c : s) c = alphabet[rng() % alphabet.size()];
        const auto list = parse_address_list(s);
        EXPECT_LE(list.size(), s.size());
        Strings addresses;
        for (const auto& a : list) {
            EXPECT_FALSE(a.address.empty());
            addresses.push_back(a.address);
        }
        EXPECT_EQ(extract_addresses(s), addresses);  // it skips the names, nothing else
    }
    // Deep nesting and long runs stay linear.
    EXPECT_EQ(extract_addresses(std::string(100000, '(') + "a@b"), (Strings{"a@b"}));
    EXPECT_TRUE(extract_addresses(std::string(100000, '(') + "a@b" + std::string(100000, ')')).empty());
    EXPECT_EQ(extract_addresses(std::string(100000, '"') + "a@b").size(), 1u);
    std::string many;
    for (int i = 0; i < 20000; ++i) many += "u" + std::to_string(i) + "@example.com, ";
    EXPECT_EQ(extract_addresses(many).size(), 20000u);
}

}  // namespace
}  // namespace ringmail::mime
