// tools/cmd_parse.cpp — `ringmail parse FILE...`: one JSON line per file with the mail
// object's header fields, message and attachments (size, sha256, type); `--save DIR`
// writes the attachments out under their base names. `ringmail extract 'value'`: one
// bare address per line.
#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/ascii.hpp"
#include "mime/addresses.hpp"
#include "mime/stream_parser.hpp"
#include "tools/commands.hpp"

namespace ringmail::tools {
namespace {

std::string sha256_hex(const std::string& data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    return base::hex_encode({reinterpret_cast<const char*>(md), len});
}

nlohmann::json optional_field(const std::optional<std::string>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// A file name from a mail is untrusted: keep its last path component, never "." or "..".
std::string safe_name(const std::string& name) {
    std::string base = name.substr(name.find_last_of("/\\") == std::string::npos ? 0 : name.find_last_of("/\\") + 1);
    if (base.empty() || base == "." || base == "..") base = "attachment";
    return base;
}

int parse_file(const std::string& path, const std::string& save_dir) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "ringmail: %s: cannot read\n", path.c_str());
        return 1;
    }
    mime::StreamParser parser;
    std::vector<char> buf(1 << 16);
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0)
        parser.feed({buf.data(), static_cast<std::size_t>(in.gcount())});
    const mime::ParsedMail m = parser.finish();
    nlohmann::json j;
    j["file"] = path;
    j["from"] = optional_field(m.from);
    j["to"] = optional_field(m.to);
    j["cc"] = optional_field(m.cc);
    j["bcc"] = optional_field(m.bcc);
    j["subject"] = optional_field(m.subject);
    j["message"] = m.message;
    j["attachments"] = nlohmann::json::object();
    for (const auto& [name, a] : m.attachments) {
        j["attachments"][name] = {{"size", a.data.size()}, {"sha256", sha256_hex(a.data)}, {"type", a.type}};
        if (!save_dir.empty()) {
            std::filesystem::create_directories(save_dir);
            std::ofstream out(std::filesystem::path(save_dir) / safe_name(name), std::ios::binary);
            out.write(a.data.data(), static_cast<std::streamsize>(a.data.size()));
            if (!out) {
                std::fprintf(stderr, "ringmail: cannot write %s to %s\n", name.c_str(), save_dir.c_str());
                return 1;
            }
        }
    }
    // Bytes that are not UTF-8 (a part with a wrong charset label) print as U+FFFD.
    const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::printf("%s\n", line.c_str());
    return 0;
}

}  // namespace

void add_parse(CLI::App& app, int& status) {
    static std::vector<std::string> files;
    static std::string save_dir;
    CLI::App* cmd = app.add_subcommand("parse", "Split message files into the mail object, one JSON line each");
    cmd->add_option("files", files, "message files (RFC 5322)")->required()->check(CLI::ExistingFile);
    cmd->add_option("--save", save_dir, "write the attachments into this directory");
    cmd->callback([&status] {
        for (const auto& f : files) status |= parse_file(f, save_dir);
    });
}

void add_extract(CLI::App& app, int& status) {
    static std::string header;
    CLI::App* cmd = app.add_subcommand("extract", "Print the bare addresses of a From/To/Cc value, one per line");
    cmd->add_option("header", header, "header value, e.g. '\"Bob\" <bob@example.com>, you@there.com'")->required();
    cmd->callback([&status] {
        for (const auto& a : extract_addresses(header)) std::printf("%s\n", a.c_str());
        status = 0;
    });
}

}  // namespace ringmail::tools
