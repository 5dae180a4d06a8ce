// bench/mime_compare.cpp — MIME parse + decode throughput, ringmail's mime::parse_message
// beside GMime 3 on the same bytes in the same run (issue 3, item 8). For each input:
//   ringmail: parse_message(bytes) — headers, every part decoded (base64/QP), the body
//             converted to UTF-8, the result freed;
//   GMime:    g_mime_parser_construct_message on a GMimeStreamMem over the same bytes (no
//             copy), then every leaf part's content decoded in full
//             (g_mime_data_wrapper_write_to_stream into a fresh GMimeStreamMem), the
//             subject and address lists read, the message unreffed.
// Time is process CPU time (CLOCK_PROCESS_CPUTIME_ID); one untimed warm-up, then repeated
// runs until at least kMinSeconds and kMinIters, stopping at kMaxSeconds. MB/s is MB
// (10^6 bytes) of raw input per CPU-second. Peak memory for ours is the high-water mark of
// live operator-new bytes (malloc_usable_size) during one parse_message, result included;
// the input itself is not counted there (it is a string_view), so "peak/size" below is
// (input + that peak) / input, the quantity the 2.2x target bounds.
//
// Usage: build/bench/mime_compare [--quick] [--only SUBSTR] [--ours-only] [--peaks] [DATA_DIR]
//   DATA_DIR defaults to Python's email test data, /usr/lib/python3.11/test/test_email/data
//   (Debian package libpython3.11-testsuite). --quick: 0.1 s per cell (smoke test).
//   --only SUBSTR: only the rows whose name contains SUBSTR; --ours-only: skip GMime's
//   timing (its column then reads 1.0), for profiling ours; --peaks: each message's peak
//   on stderr.
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#pragma GCC diagnostic ignored "-Wcast-function-type"
#include <gmime/gmime.h>
#pragma GCC diagnostic pop

#include "mime/base64.hpp"
#include "mime/quoted_printable.hpp"
#include "mime/stream_parser.hpp"

// ---- counting operator new (C++ allocations only: ours; GMime allocates with g_malloc) ----
namespace {
std::atomic<std::size_t> g_live{0}, g_peak{0};
std::atomic<bool> g_count{false};

void* counted_alloc(std::size_t n) {
    void* p = std::malloc(n ? n : 1);
    if (!p) throw std::bad_alloc();
    if (g_count.load(std::memory_order_relaxed)) {
        const std::size_t live = g_live.fetch_add(malloc_usable_size(p), std::memory_order_relaxed) +
                                 malloc_usable_size(p);
        std::size_t peak = g_peak.load(std::memory_order_relaxed);
        while (live > peak && !g_peak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
        }
    }
    return p;
}
void counted_free(void* p) noexcept {
    if (!p) return;
    if (g_count.load(std::memory_order_relaxed)) g_live.fetch_sub(malloc_usable_size(p), std::memory_order_relaxed);
    std::free(p);
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }

namespace {

namespace mime = ringmail::mime;

double kMinSeconds = 0.5, kMaxSeconds = 5.0;
std::string g_only;     // --only SUBSTR: run the rows whose name contains it
bool g_ours_only = false;  // --ours-only: skip GMime (for profiling ours)
bool g_peaks = false;      // --peaks: print each message's size and peak to stderr
constexpr int kMinIters = 20;

double cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

volatile std::size_t g_sink = 0;  // keeps results observable

// Runs fn (one iteration over `bytes` bytes of input) and returns MB/s of CPU time.
double measure(std::size_t bytes, const std::function<void()>& fn) {
    fn();  // warm-up
    int iters = 0;
    const double t0 = cpu_now();
    double t = 0;
    do {
        fn();
        ++iters;
        t = cpu_now() - t0;
    } while ((t < kMinSeconds || iters < kMinIters) && t < kMaxSeconds);
    return static_cast<double>(bytes) * iters / t / 1e6;
}

// ---- the two parsers ----
mime::MimeLimits g_limits = [] {
    mime::MimeLimits l;
    l.max_depth = 512;  // so that 100- and 400-deep nesting is parsed to the bottom, as GMime does
    return l;
}();

std::size_t ours(std::string_view msg, const mime::MimeLimits& limits) {
    mime::ParsedMail m = mime::parse_message(msg, limits);
    std::size_t n = m.message.size();
    for (const auto& [name, a] : m.attachments) n += a.data.size();
    return n;
}

void gmime_decode_part(GMimeObject* /*parent*/, GMimeObject* part, gpointer user) {
    if (!GMIME_IS_PART(part)) return;  // multiparts are walked by foreach; message/rfc822 kept whole
    GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(part));
    if (!content) return;
    GMimeStream* out = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(content, out);
    *static_cast<std::size_t*>(user) += static_cast<std::size_t>(g_mime_stream_length(out));
    g_object_unref(out);
}

std::size_t theirs(GByteArray* bytes) {
    GMimeStream* stream = g_mime_stream_mem_new_with_byte_array(bytes);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
    GMimeParser* parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
    std::size_t n = 0;
    if (msg) {
        if (const char* s = g_mime_message_get_subject(msg)) n += std::strlen(s);
        n += static_cast<std::size_t>(internet_address_list_length(g_mime_message_get_from(msg)));
        n += static_cast<std::size_t>(internet_address_list_length(g_mime_message_get_to(msg)));
        n += static_cast<std::size_t>(internet_address_list_length(g_mime_message_get_cc(msg)));
        g_mime_message_foreach(msg, gmime_decode_part, &n);
        g_object_unref(msg);
    }
    g_object_unref(parser);
    g_object_unref(stream);
    return n;
}

GByteArray* to_byte_array(std::string_view s) {
    GByteArray* a = g_byte_array_sized_new(static_cast<guint>(s.size()));
    g_byte_array_append(a, reinterpret_cast<const guint8*>(s.data()), static_cast<guint>(s.size()));
    return a;
}

// Peak live C++ heap bytes during one parse of each message (max over the messages).
std::size_t peak_ours(const std::vector<std::string>& msgs, const mime::MimeLimits& limits,
                      double* worst_ratio) {
    std::size_t worst = 0;
    *worst_ratio = 0;
    for (const auto& m : msgs) {
        g_live = 0;
        g_peak = 0;
        g_count = true;
        g_sink = g_sink + ours(m, limits);
        g_count = false;
        const std::size_t p = g_peak.load();
        if (g_peaks) std::fprintf(stderr, "peak %zu B for a %zu B message\n", p, m.size());
        worst = std::max(worst, p);
        if (!m.empty())
            *worst_ratio = std::max(*worst_ratio, static_cast<double>(m.size() + p) / static_cast<double>(m.size()));
    }
    return worst;
}

// ---- inputs (fixed seed) ----
std::mt19937_64 rng(20261121);

std::string random_bytes(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
        const std::uint64_t r = rng();
        std::memcpy(s.data() + i, &r, std::min<std::size_t>(8, n - i));
    }
    return s;
}

std::string words_text(std::size_t n, bool html) {
    static const char* const words[] = {"the",    "mail",   "server", "parses",  "größe", "message",
                                        "naïve",  "café",   "résumé", "boundary", "data", "Grüße",
                                        "attach", "€ 42",   "quoted", "printable", "=sign", "line"};
    std::string s;
    s.reserve(n + 200);
    if (html) s += "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>T</title></head><body>\r\n";
    std::size_t col = 0;
    while (s.size() < n) {
        if (html && rng() % 12 == 0) s += "<p style=\"color:#336699;font-family:Arial\">";
        const char* w = words[rng() % (sizeof words / sizeof *words)];
        s += w;
        col += std::strlen(w);
        if (col > 150 && rng() % 3 == 0) {  // long lines: QP has to soft-break them
            s += html ? "</p>\r\n" : "\r\n";
            col = 0;
        } else {
            s += ' ';
            ++col;
        }
    }
    if (html) s += "\r\n</body></html>\r\n";
    return s;
}

const char* kHeaders =
    "From: \"Ann Example\" <ann@example.com>\r\n"
    "To: bob@example.org, \"Carol, C.\" <carol@example.net>\r\n"
    "Cc: =?UTF-8?Q?J=C3=BCrgen?= <j@example.de>\r\n"
    "Subject: =?UTF-8?B?QmVuY2htYXJrIG1lc3NhZ2UgLSBHcsO8w59l?=\r\n"
    "Date: Sat, 21 Nov 2026 18:00:00 +0000\r\n"
    "Message-ID: <bench.1@example.com>\r\n"
    "MIME-Version: 1.0\r\n";

std::string big_base64(std::string* body_out) {
    std::string m = kHeaders;
    m += "Content-Type: multipart/mixed; boundary=\"=_outer_b0und4ry\"\r\n\r\n"
         "This is a multi-part message in MIME format.\r\n"
         "--=_outer_b0und4ry\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n"
         "Content-Transfer-Encoding: 7bit\r\n\r\n"
         "Please find the file attached.\r\n"
         "--=_outer_b0und4ry\r\n"
         "Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
         "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n";
    *body_out = mime::base64_encode(random_bytes(10 << 20), 76);
    m += *body_out;
    m += "\r\n--=_outer_b0und4ry--\r\n";
    return m;
}

std::string many_parts(int n) {
    std::string m = kHeaders;
    m += "Content-Type: multipart/mixed; boundary=\"----=_Part_1000\"\r\n\r\n";
    m += "--" "----=_Part_1000\r\n"
         "Content-Type: text/html; charset=utf-8\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    m += mime::qp_encode(words_text(2000, true));
    m += "\r\n";
    for (int i = 0; i < n; ++i) {
        m += "--" "----=_Part_1000\r\n";
        char name[64];
        switch (i % 3) {
        case 0:
            std::snprintf(name, sizeof name, "file%04d.bin", i);
            m += "Content-Type: application/octet-stream; name=\"" + std::string(name) + "\"\r\n"
                 "Content-Disposition: attachment; filename=\"" + name + "\"\r\n"
                 "Content-Transfer-Encoding: base64\r\n\r\n";
            m += mime::base64_encode(random_bytes(200 + rng() % 600), 76);
            break;
        case 1:
            std::snprintf(name, sizeof name, "note%04d.txt", i);
            m += "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Disposition: attachment; filename=\"" + std::string(name) + "\"\r\n"
                 "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
            m += mime::qp_encode(words_text(200 + rng() % 600, false));
            break;
        default:
            std::snprintf(name, sizeof name, "img%04d", i);
            m += "Content-Type: image/png; name=\"" + std::string(name) + ".png\"\r\n"
                 "Content-Disposition: inline\r\n"
                 "Content-ID: <" + name + "@example.com>\r\n"
                 "Content-Transfer-Encoding: base64\r\n\r\n";
            m += mime::base64_encode(random_bytes(200 + rng() % 600), 76);
            break;
        }
        m += "\r\n";
    }
    m += "--" "----=_Part_1000--\r\n";
    return m;
}

std::string qp_html(std::size_t encoded_size, std::string* body_out) {
    std::string m = kHeaders;
    m += "Content-Type: text/html; charset=utf-8\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    // words_text gives ~1.1 encoded bytes per byte; trim to the size asked for at a line end.
    std::string body = mime::qp_encode(words_text(encoded_size, true));
    if (body.size() > encoded_size) {
        std::size_t cut = body.rfind("\r\n", encoded_size);
        body.resize(cut == std::string::npos ? encoded_size : cut);
    }
    *body_out = body;
    m += body;
    m += "\r\n";
    return m;
}

std::string nested(int depth) {
    std::string m = kHeaders;
    m += "Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n";
    for (int d = 0; d < depth; ++d) {
        m += "--b" + std::to_string(d) + "\r\n";
        m += "Content-Type: text/plain; charset=utf-8\r\n"
             "Content-Disposition: attachment; filename=\"level" + std::to_string(d) + ".txt\"\r\n\r\n";
        m += "Level " + std::to_string(d) + " of the nesting test, some text to carry.\r\n";
        m += "--b" + std::to_string(d) + "\r\n";
        if (d + 1 < depth)
            m += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(d + 1) + "\"\r\n\r\n";
    }
    m += "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>bottom</p></body></html>\r\n";
    for (int d = depth - 1; d >= 0; --d) m += "--b" + std::to_string(d) + "--\r\n";
    return m;
}

std::vector<std::string> read_dir(const std::string& dir, bool msg_only) {
    std::vector<std::filesystem::path> paths;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.is_regular_file() && (!msg_only || e.path().filename().string().rfind("msg_", 0) == 0))
            paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());
    std::vector<std::string> out;
    for (const auto& p : paths) {
        std::ifstream f(p, std::ios::binary);
        std::ostringstream ss;
        ss << f.rdbuf();
        out.push_back(ss.str());
    }
    return out;
}

std::size_t total(const std::vector<std::string>& v) {
    std::size_t n = 0;
    for (const auto& s : v) n += s.size();
    return n;
}

void row(const char* name, const std::vector<std::string>& msgs, const mime::MimeLimits& limits = g_limits) {
    if (std::string_view(name).find(g_only) == std::string_view::npos) return;
    const std::size_t bytes = total(msgs);
    std::vector<GByteArray*> arrays;
    for (const auto& m : msgs) arrays.push_back(to_byte_array(m));
    const double r = measure(bytes, [&] {
        std::size_t n = 0;
        for (const auto& m : msgs) n += ours(m, limits);
        g_sink = g_sink + n;
    });
    const double g = g_ours_only ? 1.0 : measure(bytes, [&] {
        std::size_t n = 0;
        for (GByteArray* a : arrays) n += theirs(a);
        g_sink = g_sink + n;
    });
    for (GByteArray* a : arrays) g_byte_array_unref(a);
    double ratio = 0;
    const std::size_t peak = peak_ours(msgs, limits, &ratio);
    char size[32];
    if (msgs.size() > 1)
        std::snprintf(size, sizeof size, "%zu files, %zu B", msgs.size(), bytes);
    else
        std::snprintf(size, sizeof size, "%zu B", bytes);
    std::printf("| %-30s | %22s | %13.0f | %10.1f | %7.1fx | %11zu | %8.2fx |\n", name, size, r, g, r / g, peak,
                ratio);
    std::fflush(stdout);
}

void ref_row(const char* name, std::size_t bytes, const std::function<void()>& fn) {
    if (std::string_view(name).find(g_only) == std::string_view::npos) return;
    const double r = measure(bytes, fn);
    char size[32];
    std::snprintf(size, sizeof size, "%zu B", bytes);
    std::printf("| %-30s | %22s | %13.0f | %10s | %8s | %11s | %9s |\n", name, size, r, "", "", "", "");
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir = "/usr/lib/python3.11/test/test_email/data";
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) {
            kMinSeconds = 0.1;
            kMaxSeconds = 1.0;
        } else if (std::strcmp(argv[i], "--peaks") == 0) {
            g_peaks = true;
        } else if (std::strcmp(argv[i], "--ours-only") == 0) {
            g_ours_only = true;
        } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            g_only = argv[++i];
        } else {
            dir = argv[i];
        }
    }
    g_mime_init();

    std::string b64_body, qp_body;
    const std::string big = big_base64(&b64_body);
    const std::string parts = many_parts(1000);
    const std::string qp = qp_html(8 << 20, &qp_body);
    const std::string deep = nested(100);
    const std::string deep25 = nested(25), deep400 = nested(400);

    std::printf("MB/s = 10^6 bytes of raw input per CPU-second; ratio = ringmail / GMime %u.%u.%u\n\n",
                gmime_major_version, gmime_minor_version, gmime_micro_version);
    std::printf("| %-30s | %22s | %13s | %10s | %8s | %11s | %9s |\n", "input", "size", "ringmail MB/s",
                "GMime MB/s", "ratio", "peak B ours", "peak/size");
    std::printf("|%s|%s|%s|%s|%s|%s|%s|\n", std::string(32, '-').c_str(), std::string(23, '-').append(":").c_str(),
                std::string(14, '-').append(":").c_str(), std::string(11, '-').append(":").c_str(),
                std::string(9, '-').append(":").c_str(), std::string(12, '-').append(":").c_str(),
                std::string(10, '-').append(":").c_str());

    std::vector<std::string> corpus, corpus_msg;
    if (std::filesystem::is_directory(dir)) {
        corpus = read_dir(dir, false);
        corpus_msg = read_dir(dir, true);
    } else {
        std::fprintf(stderr, "no corpus at %s (install libpython3.11-testsuite); skipping it\n", dir.c_str());
    }
    if (!corpus.empty()) row("python email data, all files", corpus);
    if (!corpus_msg.empty()) row("python email data, msg_*.txt", corpus_msg);
    row("10 MiB base64 attachment", {big});
    row("1,000 small parts", {parts});
    row("8 MiB quoted-printable HTML", {qp});
    row("100 nested multiparts", {deep});
    row("100 nested, default limits", {deep}, mime::MimeLimits{});
    row("25 nested multiparts", {deep25});  // with 100 and 400: linear if MB/s holds
    row("400 nested multiparts", {deep400});

    std::string dst(big.size(), '\0');
    ref_row("memcpy of the base64 message", big.size(), [&] {
        std::memcpy(dst.data(), big.data(), big.size());
        asm volatile("" : : "r"(dst.data()) : "memory");
    });
    ref_row("base64_decode, body alone", b64_body.size(),
            [&] { g_sink = g_sink + mime::base64_decode(b64_body).size(); });
    ref_row("qp_decode, body alone", qp_body.size(), [&] { g_sink = g_sink + mime::qp_decode(qp_body).size(); });
    return 0;
}
