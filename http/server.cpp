// http/server.cpp — libmicrohttpd with its one internal polling thread (epoll): a request's
// body is gathered (bounded by max_body), then routed; answers are JSON with a Content-Type.
// RFC 9110 15.5.6: a known path with another method is 405 with Allow; RFC 6750 3: a
// missing or wrong bearer token is 401 with WWW-Authenticate.
#include "http/server.hpp"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "base/ascii.hpp"
#include "base/log.hpp"
#include "http/admin_page.hpp"
#include "relay/sqlite_store.hpp"

namespace ringmail::http {
namespace {

// A listening socket on host:port, made here rather than by MHD so that a port in use is
// one clear start-up error and port 0's choice is known before the thread starts.
int listen_on(const std::string& host, std::uint16_t port, std::uint16_t& bound) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        len = sizeof *v4;
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        len = sizeof *v6;
    } else {
        throw std::runtime_error("[http] listen: " + host + " is not an IP address");
    }
    const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw std::runtime_error(std::string("[http] listen: socket: ") + std::strerror(errno));
    const int on = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (ss.ss_family == AF_INET6) (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 128) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        const int e = errno;
        ::close(fd);
        throw std::runtime_error("[http] listen: cannot listen on " + host + " port " + std::to_string(port) + ": " +
                                 std::strerror(e));
    }
    bound = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
    return fd;
}

// Compares in a time that depends on the length only, so that the answer's timing does not
// tell how much of a guessed token was right.
bool same_secret(std::string_view given, std::string_view token) noexcept {
    if (given.size() != token.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ token[i]);
    return diff == 0;
}

// A Response::more body as MHD pulls it: one piece at a time, in a buffer that is reused.
struct Stream {
    std::string piece;
    std::size_t at = 0;
    std::function<Piece(std::string&)> more;
    bool ended = false;
};

ssize_t read_stream(void* cls, std::uint64_t, char* buf, std::size_t max) {
    auto* s = static_cast<Stream*>(cls);
    if (s->at == s->piece.size()) {
        s->piece.clear();
        s->at = 0;
        if (s->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        const Piece p = s->more(s->piece);
        if (p == Piece::Failed) return MHD_CONTENT_READER_END_WITH_ERROR;
        s->ended = p == Piece::End;
        if (s->piece.empty()) return s->ended ? MHD_CONTENT_READER_END_OF_STREAM : 0;
    }
    const std::size_t n = std::min(max, s->piece.size() - s->at);
    std::memcpy(buf, s->piece.data() + s->at, n);
    s->at += n;
    return static_cast<ssize_t>(n);
}

void log_mhd(void*, const char* fmt, va_list ap) {
    char line[512];
    std::vsnprintf(line, sizeof line, fmt, ap);
    std::string text = line;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    log::note("http: " + text);
}

}  // namespace

struct Server::Callbacks {
    struct Request {
        std::string body;
        bool too_big = false;
    };

    static MHD_Result send(MHD_Connection* c, Response r) {
        MHD_Response* m = nullptr;
        if (r.more) {
            auto* s = new Stream{std::move(r.body), 0, std::move(r.more), false};
            m = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, read_stream, s,
                                                  [](void* p) { delete static_cast<Stream*>(p); });
            if (!m) delete s;
        } else {
            m = MHD_create_response_from_buffer(r.body.size(), r.body.data(), MHD_RESPMEM_MUST_COPY);
        }
        if (!m) return MHD_NO;  // out of memory: MHD closes the connection
        MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
        for (const auto& [name, value] : r.headers) MHD_add_response_header(m, name.c_str(), value.c_str());
        const MHD_Result ok = MHD_queue_response(c, r.status, m);
        MHD_destroy_response(m);
        return ok;
    }

    static MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                                 const char* upload, std::size_t* upload_size, void** state) {
        auto* self = static_cast<Server*>(cls);
        auto* req = static_cast<Request*>(*state);
        if (!req) {  // the header is in: refuse what needs no body before reading one
            *state = req = new Request;
            // The admin page (GET /) holds no data (its script sends the token): no token.
            const bool page = std::string_view(url) == "/" && std::string_view(method) == "GET";
            if (!page && !self->authorized(c)) {
                Response r = error_response(401, "missing or wrong bearer token (Authorization: Bearer TOKEN)");
                r.headers.emplace_back(MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"ringmail\"");
                return send(c, std::move(r));
            }
            return MHD_YES;
        }
        if (*upload_size != 0) {  // a piece of the body; past max_body the rest is dropped
            if (!req->too_big && req->body.size() + *upload_size <= self->options_.max_body) {
                req->body.append(upload, *upload_size);
            } else if (!req->too_big) {
                req->too_big = true;
                std::string().swap(req->body);
            }
            *upload_size = 0;
            return MHD_YES;
        }
        if (req->too_big)
            return send(c, error_response(413, "request body over " + std::to_string(self->options_.max_body) +
                                                   " octets"));
        return send(c, self->route(c, method, url, req->body));
    }

    static void on_completed(void*, MHD_Connection*, void** state, MHD_RequestTerminationCode) {
        delete static_cast<Request*>(*state);
        *state = nullptr;
    }
};

Server::Server(const ServerOptions& options, std::unique_ptr<QueueApi> api, MetricsSource metrics)
    : options_(options), api_(std::move(api)), metrics_(std::move(metrics)) {
    listen_fd_ = listen_on(options_.host, options_.port, port_);
}

Server::~Server() {
    if (daemon_) MHD_stop_daemon(daemon_);  // joins the thread and closes the listener
    else if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::string Server::address() const {
    const bool v6 = options_.host.find(':') != std::string::npos;
    return (v6 ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(port_);
}

void Server::start() {
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (options_.host.find(':') != std::string::npos) flags |= MHD_USE_IPv6;
    daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &Callbacks::on_request, this,
                               MHD_OPTION_EXTERNAL_LOGGER, &log_mhd, nullptr,  // first, or MHD warns
                               MHD_OPTION_LISTEN_SOCKET, listen_fd_,
                               MHD_OPTION_NOTIFY_COMPLETED, &Callbacks::on_completed, nullptr,
                               // Bounded: idle clients go after a minute, at most 64 at once.
                               MHD_OPTION_CONNECTION_TIMEOUT, 60u,
                               MHD_OPTION_CONNECTION_LIMIT, 64u,
                               MHD_OPTION_END);
    if (!daemon_) throw std::runtime_error("[http] cannot start the HTTP server on " + address());
}

bool Server::authorized(MHD_Connection* c) const {
    if (options_.token.empty()) return true;
    const char* h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h) return false;
    std::string_view v = h;
    constexpr std::string_view scheme = "bearer ";  // RFC 6750 2.1; the scheme in any case
    if (v.size() <= scheme.size() || !base::iequals(v.substr(0, scheme.size()), scheme)) return false;
    v.remove_prefix(scheme.size());
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    return same_secret(v, options_.token);
}

Response Server::route(MHD_Connection* c, std::string_view method, std::string_view path, std::string_view body) {
    const auto only = [&](const char* allowed) {
        Response r = error_response(405, std::string(method) + " is not allowed on " + std::string(path) +
                                             " (allowed: " + allowed + ")");
        r.headers.emplace_back(MHD_HTTP_HEADER_ALLOW, allowed);
        return r;
    };
    if (path == "/") return method == "GET" ? admin_page() : only("GET");
    // Behind the token like the rest (checked before routing): a scraper sends it with
    // Prometheus' `authorization: {credentials: TOKEN}`.
    if (path == "/metrics") return method == "GET" ? api_->metrics(metrics_) : only("GET");
    if (path == "/api/inject/v1") return method == "POST" ? api_->inject(body) : only("POST");
    if (path == "/api/queue") {
        if (method != "GET") return only("GET");
        const char* status = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "status");
        return api_->list(status ? status : "");
    }
    constexpr std::string_view queue = "/api/queue/";
    if (path.substr(0, queue.size()) == queue && path.size() > queue.size()) {
        std::string_view id = path.substr(queue.size());
        constexpr std::string_view retry = "/retry";
        if (id.size() > retry.size() && id.substr(id.size() - retry.size()) == retry) {
            id.remove_suffix(retry.size());
            if (id.find('/') == std::string_view::npos) return method == "POST" ? api_->retry(id) : only("POST");
        } else if (id.find('/') == std::string_view::npos) {
            if (method == "GET") return api_->show(id);
            if (method == "DELETE") return api_->remove(id);
            return only("GET, DELETE");
        }
    }
    return error_response(404, "no such path: " + std::string(path) +
                                   " (POST /api/inject/v1, GET /api/queue, GET or DELETE /api/queue/ID, "
                                   "POST /api/queue/ID/retry, GET /metrics)");
}

std::unique_ptr<Server> make_server(const Config& config, std::function<void()> poke, MetricsSource metrics) {
    if (!config.http.enabled()) return nullptr;
    relay::SqliteStoreOptions so;
    so.dir = config.relay.queue_dir;
    so.max_message_size = config.relay.max_message_size;
    InjectLimits limits;
    limits.max_message_size = config.relay.max_message_size;
    ServerOptions o;
    o.host = config.http.host;
    o.port = config.http.port;
    o.token = config.http.token;
    // A message goes into JSON as a string (escapes) or base64 attachments (4/3): twice its
    // size, and a MiB for the recipients and their substitutions.
    o.max_body = static_cast<std::size_t>(2 * config.relay.max_message_size + (1 << 20));
    return std::make_unique<Server>(
        o, std::make_unique<QueueApi>(relay::SqliteStore::open(so), limits, std::move(poke)), std::move(metrics));
}

}  // namespace ringmail::http
