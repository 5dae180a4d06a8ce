// examples/send_mail.cpp — the library's send() in one page: N copies of one mail object
// to one server over one connection (RSET between), with a result per recipient.
//   build/examples/send_mail HOST PORT MODE COUNT [PASSWORD]   (MODE 0 plain, 1 STARTTLS, 2 SMTPS)
// Certificates are not verified here (for test servers); leave verify on in real code.
#include <cstdio>
#include <string>
#include <vector>

#include "client/send.hpp"
#include "mime/address_list.hpp"

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: send_mail HOST PORT MODE COUNT [PASSWORD]\n");
        return 2;
    }
    std::vector<ringmail::Mail> mails;
    for (int i = 0; i < std::stoi(argv[4]); ++i) {
        ringmail::Mail m;
        m.from = "\"Alice\" <alice@example.org>";
        m.to = "Bob <bob@example.com>, other@example.com";
        m.sender = ringmail::mime::extract_addresses(m.from)[0];
        m.recipients = ringmail::mime::extract_addresses(m.to);
        m.user = m.sender;
        m.subject = "message " + std::to_string(i + 1);
        m.message = "<p>Dear everyone,</p><p><img src=\"cid:dot.gif\"></p>";
        m.attachments["dot.gif"] = std::string("GIF89a\x01\x00\x01\x00\x00\x00\x00;", 14);
        mails.push_back(std::move(m));
    }
    ringmail::SendOptions options;
    options.verify = false;
    options.timeout_s = 10;
    const auto results = ringmail::send(mails, argc > 5 ? argv[5] : "", argv[1], std::stoi(argv[2]),
                                        std::stoi(argv[3]), options);
    int status = 0;
    for (std::size_t i = 0; i < results.size(); ++i) {
        for (const auto& r : results[i].recipients)
            std::printf("%zu %s: %s (%s)\n", i + 1, r.address.c_str(), r.accepted ? "accepted" : "refused",
                        r.reply.c_str());
        if (!results[i].ok()) {
            std::fprintf(stderr, "message %zu: %s\n", i + 1, results[i].error.c_str());
            status = 1;
        }
    }
    return status;
}
