// tests/mime/merge_test.cpp — mime::merge_tokens: "#Name#" markers filled, missing ones left
// empty, text that is no marker kept byte for byte, values in a charset and encoding; and
// mime::merge_variables, the same for KumoMTA's "{{ name }}".
#include "mime/merge.hpp"

#include <gtest/gtest.h>

namespace {

using ringmail::mime::has_tokens;
using ringmail::mime::merge_variables;
using ringmail::mime::merge_tokens;
using ringmail::mime::Tokens;

TEST(Merge, MarkersTakeTheirValues) {
    const Tokens t{{"FirstName", "John"}, {"LastName", "Doe"}};
    EXPECT_EQ(merge_tokens("Dear #FirstName# #LastName#,", t), "Dear John Doe,");
    EXPECT_EQ(merge_tokens("#FirstName##LastName#", t), "JohnDoe");
}

TEST(Merge, NamesMatchInAnyCase) {
    EXPECT_EQ(merge_tokens("Hi #firstname#", {{"FirstName", "Jane"}}), "Hi Jane");
    EXPECT_EQ(merge_tokens("Hi #Name#", {{"name", "low"}, {"Name", "exact"}}), "Hi exact");
}

TEST(Merge, MissingTokenIsLeftEmpty) {
    EXPECT_EQ(merge_tokens("Dear #FirstName# #Nick#!", {{"FirstName", "John"}}), "Dear John !");
    EXPECT_EQ(merge_tokens("#Only#", {}), "");
}

TEST(Merge, TextThatIsNoMarkerStays) {
    const Tokens t{{"x", "X"}};
    for (const std::string s : {"Call #1 or #2 now", "color:#fff;background:#000", "&#39;quoted&#39;", "#", "##",
                                "a # b # c", "#x", "x#", "ends with #x", "#bad name#"})
        EXPECT_EQ(merge_tokens(s, t), s) << s;
    EXPECT_EQ(merge_tokens("## #x# #", t), "## X #");
    EXPECT_EQ(merge_tokens("#a#x#", t), "x#");  // "#a#" is a marker (no value); "x#" is text
    const std::string long_name = "#" + std::string(65, 'n') + "#";
    EXPECT_EQ(merge_tokens(long_name, t), long_name);
}

TEST(Merge, ValuesAreNotMergedAgain) {
    EXPECT_EQ(merge_tokens("#a# #b#", {{"a", "#b#"}, {"b", "B"}}), "#b# B");
}

TEST(Merge, ValuesInCharsetAndTransferEncoding) {
    const Tokens t{{"City", "Köln"}};
    EXPECT_EQ(merge_tokens("in #City#", t, "iso-8859-1", ""), "in K\xF6ln");
    EXPECT_EQ(merge_tokens("in #City#", t, "", "quoted-printable"), "in K=C3=B6ln");
    EXPECT_EQ(merge_tokens("in #City#", t, "ISO-8859-1", "Quoted-Printable"), "in K=F6ln");
    EXPECT_EQ(merge_tokens("#City#", t, "", "base64"), "S8O2bG4=");
    EXPECT_EQ(merge_tokens("#City#", {{"City", "日本"}}, "iso-8859-1", ""), "日本");  // cannot: as given
}

TEST(Merge, HasTokens) {
    EXPECT_TRUE(has_tokens("Hello #Name#"));
    EXPECT_FALSE(has_tokens("Call #1 or #2, color:#fff;"));
}

TEST(MergeVariables, WithAndWithoutSpaces) {
    const Tokens t{{"name", "Ann"}, {"city", "Oslo"}};
    EXPECT_EQ(merge_variables("Hi {{ name }} from {{city}}!", t), "Hi Ann from Oslo!");
    EXPECT_EQ(merge_variables("{{\tname  }}{{Name}}", t), "AnnAnn");  // any case, as #Name#
    EXPECT_EQ(merge_variables("{{ nick }}.", t), ".");                  // undefined: empty
}

TEST(MergeVariables, AnythingElseInBracesStays) {
    const Tokens t{{"a", "A"}};
    for (const std::string& s : {std::string("{{"), std::string("}}"), std::string("{{ }}"), std::string("{a}"),
                                std::string("{{ a | upper }}"), std::string("{{ a b }}"), std::string("{{ a }"),
                                std::string("{% if a %}"), "{{" + std::string(65, 'a') + "}}"})
        EXPECT_EQ(merge_variables(s, t), s) << s;
    EXPECT_EQ(merge_variables("{{{a}}", t), "{A");
    EXPECT_EQ(merge_variables("#a# {{a}}", t), "#a# A");  // only braces here
    EXPECT_EQ(merge_variables("{{a}}", {{"a", "{{a}}"}}), "{{a}}");  // values are not merged again
}

TEST(MergeVariables, MarkersTooInOnePass) {
    const Tokens t{{"a", "#b#"}, {"b", "{{a}}"}};
    EXPECT_EQ(merge_variables("{{a}} #b# {{ a }}", t, true), "#b# {{a}} #b#");
    EXPECT_EQ(merge_variables("{{a}} #b#", t, false), "#b# #b#");
}

}  // namespace
