// tests/proto/transcript_test.cpp — one runner for tests/proto/transcripts/*.txt.
// Format, one item per line:
//   C: text    client sends text + CRLF      C= text   client sends text, no CRLF
//   S: text    server reply line (CRLF implied; the greeting is the first S: line)
//   M: text    body of the next delivered message (escapes; usually ends in \r\n)
//   L: key=n   a Limits field (max_command_line, max_text_line, max_message_size,
//              max_recipients, max_errors)        F: auth=0   turn AUTH off
//   E: closed  the session must have asked to close     # …   comment
// C:/C=/M: text takes escapes \r \n \t \\ \xHH. The client bytes are concatenated and
// run under every split; all must give exactly the S: lines and the M: bodies.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "session_driver.hpp"

namespace ringmail::test {
namespace {

namespace fs = std::filesystem;

std::string unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\' || i + 1 == s.size()) {
            out.push_back(s[i]);
            continue;
        }
        const char c = s[++i];
        switch (c) {
        case 'r': out.push_back('\r'); break;
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case '\\': out.push_back('\\'); break;
        case 'x':
            if (i + 2 >= s.size()) throw std::runtime_error("bad \\x escape");
            out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
            break;
        default: throw std::runtime_error(std::string("unknown escape \\") + c);
        }
    }
    return out;
}

struct Transcript {
    std::string input, expected;
    std::vector<std::string> bodies;
    proto::Limits limits;
    proto::Features features;
    bool closed = false;
};

Transcript load(const fs::path& file) {
    std::ifstream f(file, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + file.string());
    Transcript t;
    std::string line;
    while (std::getline(f, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        if (line.size() < 2 || (line[1] != ':' && line[1] != '='))
            throw std::runtime_error("bad line: " + line);
        const std::string_view rest = std::string_view(line).substr(line.size() > 2 && line[2] == ' ' ? 3 : 2);
        const std::string kv(rest);
        const auto eq = kv.find('=');
        switch (line[0]) {
        case 'C': t.input += unescape(rest) + (line[1] == ':' ? "\r\n" : ""); break;
        case 'S': t.expected += std::string(rest) + "\r\n"; break;
        case 'M': t.bodies.push_back(unescape(rest)); break;
        case 'E': t.closed = rest == "closed"; break;
        case 'F': t.features.auth = kv != "auth=0"; break;
        case 'L': {
            const std::string key = kv.substr(0, eq);
            const auto n = std::stoull(kv.substr(eq + 1));
            if (key == "max_command_line") t.limits.max_command_line = n;
            else if (key == "max_text_line") t.limits.max_text_line = n;
            else if (key == "max_message_size") t.limits.max_message_size = n;
            else if (key == "max_recipients") t.limits.max_recipients = n;
            else if (key == "max_errors") t.limits.max_errors = static_cast<unsigned>(n);
            else throw std::runtime_error("unknown limit " + key);
            break;
        }
        default: throw std::runtime_error("bad line: " + line);
        }
    }
    return t;
}

std::vector<fs::path> transcripts() {
    std::vector<fs::path> v;
    for (const auto& e : fs::directory_iterator(RINGMAIL_TRANSCRIPT_DIR))
        if (e.path().extension() == ".txt") v.push_back(e.path());
    std::sort(v.begin(), v.end());
    return v;
}

class TranscriptTest : public ::testing::TestWithParam<fs::path> {};

TEST_P(TranscriptTest, RepliesMatchUnderEverySplit) {
    const Transcript t = load(GetParam());
    const SessionRun r = drive_all_splits(t.input, t.limits, t.features, rule_policy());
    EXPECT_EQ(lines(r.out), lines(t.expected));
    EXPECT_EQ(r.closed, t.closed);
    std::vector<std::string> bodies;
    for (const auto& m : r.mails) bodies.push_back(m.body);
    EXPECT_EQ(bodies, t.bodies);
}

INSTANTIATE_TEST_SUITE_P(Transcripts, TranscriptTest, ::testing::ValuesIn(transcripts()),
                         [](const ::testing::TestParamInfo<fs::path>& info) {
                             std::string n = info.param.stem().string();
                             for (char& c : n)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return n;
                         });

TEST(Transcripts, DirectoryIsNotEmpty) { EXPECT_GE(transcripts().size(), 5u); }

}  // namespace
}  // namespace ringmail::test
