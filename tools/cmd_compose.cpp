// tools/cmd_compose.cpp — `ringmail compose`: builds a MIME message from flags and prints
// it. Date and Message-ID come from engine/send.hpp (the composer itself is pure).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "client/send.hpp"
#include "mime/composer.hpp"
#include "tools/commands.hpp"

namespace ringmail::tools {
// Declared in tools/commands.hpp; shared by compose and send.
std::string read_file(const std::string& path) {
    if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot read");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void add_compose(CLI::App& app, int& status) {
    struct Args {
        std::string from, to, cc, subject, text, html, text_file, html_file, reply_to;
        std::vector<std::string> attach, inline_images, headers;
    };
    static Args a;
    CLI::App* cmd = app.add_subcommand("compose", "Build a MIME message from parts and print it");
    cmd->add_option("--from", a.from, "From header, e.g. '\"Alice\" <alice@example.com>'")->required();
    cmd->add_option("--to", a.to, "To header")->required();
    cmd->add_option("--cc", a.cc, "Cc header");
    cmd->add_option("--reply-to", a.reply_to, "Reply-To header");
    cmd->add_option("--subject", a.subject, "Subject (UTF-8)");
    cmd->add_option("--text", a.text, "text/plain body");
    cmd->add_option("--html", a.html, "text/html body");
    cmd->add_option("--text-file", a.text_file, "text/plain body from a file")->check(CLI::ExistingFile);
    cmd->add_option("--html-file", a.html_file, "text/html body from a file")->check(CLI::ExistingFile);
    cmd->add_option("--attach", a.attach, "attach a file (repeatable)")->check(CLI::ExistingFile);
    cmd->add_option("--inline", a.inline_images,
                    "an image the HTML shows as cid:FILENAME (repeatable)")->check(CLI::ExistingFile);
    cmd->add_option("--header", a.headers, "extra header 'Name: value' (repeatable)");
    cmd->callback([&status] {
        try {
            mime::ComposeInput in;
            in.from = a.from;
            in.to = a.to;
            in.cc = a.cc;
            in.reply_to = a.reply_to;
            in.subject = a.subject;
            in.text = a.text_file.empty() ? a.text : read_file(a.text_file);
            in.html = a.html_file.empty() ? a.html : read_file(a.html_file);
            for (const auto& f : a.attach) in.attachments[std::filesystem::path(f).filename().string()] = read_file(f);
            for (const auto& f : a.inline_images) in.attachments[std::filesystem::path(f).filename().string()] = read_file(f);
            for (const auto& h : a.headers) {
                const auto colon = h.find(':');
                if (colon == std::string::npos || colon == 0) throw std::runtime_error("bad --header '" + h + "' (expected 'Name: value')");
                std::string value = h.substr(colon + 1);
                while (!value.empty() && value.front() == ' ') value.erase(0, 1);
                in.extra_headers.emplace_back(h.substr(0, colon), value);
            }
            char host[256] = "localhost";
            ::gethostname(host, sizeof host - 1);
            in.date = message_date();
            in.message_id = new_message_id(host);
            in.boundary_seed = random_hex(8);
            const std::string out = mime::compose(in);
            std::fwrite(out.data(), 1, out.size(), stdout);
            status = 0;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ringmail: %s\n", e.what());
            status = 2;
        }
    });
}

}  // namespace ringmail::tools
