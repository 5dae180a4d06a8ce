// http/metrics.cpp — the Prometheus text format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): per family one # HELP,
// one # TYPE, then its samples; a histogram's buckets are cumulative and end with +Inf,
// followed by _sum and _count. Every label pair of a family is written, zeros included, so
// a series never vanishes between scrapes.
#include "http/metrics.hpp"

#include <array>
#include <cstdint>

namespace ringmail::http {
namespace {

void family(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void sample(std::string& out, const char* name, std::string_view labels, std::uint64_t value) {
    out += name;
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}

void one(std::string& out, const char* name, const char* type, const char* help, std::uint64_t value) {
    family(out, name, type, help);
    sample(out, name, {}, value);
}

}  // namespace

std::string render_metrics(const metrics::Snapshot& s, std::span<const relay::DepthRow> depth) {
    std::string out;
    out.reserve(4096);
    one(out, "ringmail_smtp_connections_accepted_total", "counter", "SMTP connections accepted.",
        s.connections_accepted);
    one(out, "ringmail_smtp_connections_open", "gauge", "SMTP connections open now.", s.connections_open);
    one(out, "ringmail_smtp_messages_received_total", "counter",
        "Messages whose data was received and given a verdict (accepted or rejected).", s.messages_received);
    one(out, "ringmail_smtp_messages_accepted_total", "counter", "Messages accepted (250 after DATA).",
        s.messages_accepted);
    one(out, "ringmail_smtp_messages_rejected_total", "counter",
        "Messages refused after DATA, temporarily (4xx) or permanently (5xx).", s.messages_rejected);
    one(out, "ringmail_smtp_message_bytes_accepted_total", "counter", "Octets of the messages accepted.",
        s.bytes_accepted);
    family(out, "ringmail_tls_handshakes_total", "counter", "Inbound TLS handshakes (STARTTLS and implicit TLS).");
    sample(out, "ringmail_tls_handshakes_total", "result=\"ok\"", s.tls_ok);
    sample(out, "ringmail_tls_handshakes_total", "result=\"failed\"", s.tls_failed);

    family(out, "ringmail_queue_messages", "gauge", "Messages in the queue by status and priority.");
    for (const relay::Status st : {relay::Status::Queued, relay::Status::Sent, relay::Status::Error})
        for (const relay::Priority p : {relay::Priority::High, relay::Priority::Medium, relay::Priority::Low}) {
            std::uint64_t n = 0;
            for (const relay::DepthRow& r : depth)
                if (r.status == st && r.priority == p) n += r.messages;
            std::string labels = "status=\"";
            labels += relay::name(st);
            labels += "\",priority=\"";
            labels += relay::name(p);
            labels += '"';
            sample(out, "ringmail_queue_messages", labels, n);
        }

    family(out, "ringmail_delivery_attempts_total", "counter",
           "Delivery attempts by result, one per recipient and attempt.");
    sample(out, "ringmail_delivery_attempts_total", "result=\"sent\"", s.delivery_sent);
    sample(out, "ringmail_delivery_attempts_total", "result=\"deferred\"", s.delivery_deferred);
    sample(out, "ringmail_delivery_attempts_total", "result=\"bounced\"", s.delivery_bounced);

    constexpr const char* h = "ringmail_delivery_latency_seconds";
    family(out, h, "histogram", "Seconds from queue entry to a final delivery result (sent or bounced), per recipient.");
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < s.latency.size(); ++i) {
        cumulative += s.latency[i];
        const std::string le = i < metrics::kLatencyBuckets.size() ? std::to_string(metrics::kLatencyBuckets[i]) : "+Inf";
        out += "ringmail_delivery_latency_seconds_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
    }
    // The count is the buckets' sum (not a counter of its own), so that +Inf and _count
    // agree even when a scrape reads them while the engine writes.
    sample(out, "ringmail_delivery_latency_seconds_sum", {}, s.latency_sum);
    sample(out, "ringmail_delivery_latency_seconds_count", {}, cumulative);

    one(out, "ringmail_relay_connections_open", "gauge", "Outbound delivery connections open now.",
        s.relay_connections_open);
    return out;
}

Response metrics_response(const MetricsSource& source, relay::Store& store) {
    std::vector<relay::DepthRow> depth;
    if (const relay::StoreResult r = store.depth(depth); !r) return error_response(500, r.detail);
    Response resp;
    resp.body = render_metrics(source ? source() : metrics::Snapshot{}, depth);
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return resp;
}

}  // namespace ringmail::http
