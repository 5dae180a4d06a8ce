// http/admin_page.hpp — GET /: the queue admin page (issue 15), one self-contained HTML page
// (inline CSS and JavaScript, nothing fetched but the queue API on the same origin).
// It holds no data, so it is served without the bearer token; its script asks for one.
#pragma once
#include "http/response.hpp"

namespace ringmail::http {

// The page with a fresh CSP nonce: only its own <style> and <script> run, and it may
// connect to its own origin only (Content-Security-Policy, nosniff, no framing, no cache).
Response admin_page();

}  // namespace ringmail::http
