"""The admin page (issue 15): GET / of `ringmail serve`'s HTTP API (handler = queue, with a
token) in a real headless Chromium driven by Selenium. Two messages are queued for an
address literal whose port is closed, so they stay queued (retry_base 1h); the page must
show them and their counts once the token is pasted, open a message's recipients, retry one
(the engine tries it again at once) and remove the other (confirm dialog accepted).
Skipped without chromium, chromedriver or python3-selenium (Debian's, for /usr/bin/python3:
this file runs itself again with that Python when the one running it has no selenium)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

import ringmail_e2e as e2e

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-selenium
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
TOKEN = "admin-page-token"
WAIT = 30  # seconds: bound on the page or the engine catching up (the page reads every 5 s)

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait
    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False


def closed_port():
    """A loopback port that nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AdminPage(e2e.ServerTestCase):
    def setUp(self):
        super().setUp()
        for path, what in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
            if not os.access(path, os.X_OK):
                self.skipTest(what + " not installed")
        if not HAVE_SELENIUM:
            self.skipTest("python3-selenium not installed (for %s or %s)" % (sys.executable, SYSTEM_PYTHON))

    def call(self, method, path, body=None, token=TOKEN):
        """(status, headers, body bytes) through urllib."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=e2e.IO_TIMEOUT) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.headers, e.read()

    def message(self, qid):
        status, _, body = self.call("GET", "/api/queue/" + qid)
        return json.loads(body) if status == 200 else None

    def inject(self, rcpt):
        status, _, body = self.call("POST", "/api/inject/v1", {
            "envelope_sender": "sender@example.org",
            "content": "Subject: admin page\r\n\r\nHello.\r\n",
            "recipients": [{"email": rcpt}]})
        self.assertEqual(status, 200, body)
        [qid] = json.loads(body)["ids"]
        return qid

    def browser(self):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions", "--disable-sync", "--disable-default-apps",
                    "--disable-background-networking", "--disable-component-update", "--no-proxy-server",
                    # Nothing but loopback, whatever the page might ask for.
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    "--user-data-dir=" + os.path.join(self.tmp, "chromium")):
            options.add_argument(arg)
        log = os.path.join(self.tmp, "chromedriver.log")
        try:  # Selenium 4.11 renamed log_path (Debian 12 has 4.8)
            service = Service(CHROMEDRIVER, log_output=log)
        except TypeError:
            service = Service(CHROMEDRIVER, log_path=log)
        driver = webdriver.Chrome(service=service, options=options)
        self.addCleanup(driver.quit)  # the driver and the browser go even when the test fails
        return driver

    def ids(self, driver):
        """The ids of the list as drawn now; None when it was drawn again while being read."""
        try:
            return {tr.get_attribute("data-id") for tr in driver.find_elements(By.CSS_SELECTOR, "tr.msg")}
        except StaleElementReferenceException:
            return None

    def detail_cells(self, driver):
        """The cells of the opened row's recipients, or None while there are none or the
        list is being drawn again (the live refresh replaces the rows)."""
        try:
            tables = driver.find_elements(By.CSS_SELECTOR, "tr.detail table.recipients")
            return [td.text for td in tables[0].find_elements(By.CSS_SELECTOR, "td")] if tables else None
        except StaleElementReferenceException:
            return None

    def click(self, driver, qid, css):
        """Clicks `css` in the row of `qid`; the list is drawn again at each read, so a row
        found just before may be gone: then it is found again."""
        def go(d):
            try:
                d.find_element(By.CSS_SELECTOR, 'tr.msg[data-id="%s"] %s' % (qid, css)).click()
                return True
            except (StaleElementReferenceException, NoSuchElementException):
                return False
        WebDriverWait(driver, WAIT).until(go)

    def test_page_lists_retries_and_removes(self):
        s = self.server(handler="queue", config={"port": 0, "http": {"token": TOKEN}, "relay": {
            "queue_dir": os.path.join(self.tmp, "queue"), "mx_port": closed_port(),
            "retry_base": "1h", "retry_max": "2h"}})
        self.assertIsNotNone(s.http_port, s.stderr())
        self.base = "http://127.0.0.1:%d" % s.http_port

        # The page itself needs no token and carries its own headers; the API still does.
        status, headers, page = self.call("GET", "/", token=None)
        self.assertEqual(status, 200, page)
        self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
        csp = headers["Content-Security-Policy"]
        self.assertIn("default-src 'none'", csp)
        self.assertIn("connect-src 'self'", csp)
        self.assertNotIn("unsafe", csp)
        nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
        self.assertEqual(page.count(('nonce="%s"' % nonce).encode()), 2)
        self.assertNotIn(b"innerHTML", page)
        self.assertNotIn(b"http://", page)
        self.assertNotIn(b"https://", page)
        self.assertEqual(self.call("GET", "/api/queue", token=None)[0], 401)
        self.assertEqual(self.call("POST", "/", token=None)[0], 401)

        first, second = self.inject("ann@[127.0.0.1]"), self.inject("bob@[127.0.0.1]")
        # Each is tried once at once, refused, and due again in about an hour.
        tried = lambda qid: (self.message(qid) or {"recipients": [{"attempts": 0}]})["recipients"][0]["attempts"] >= 1
        self.assertTrue(e2e.poll(lambda: tried(first) and tried(second), WAIT, 0.1), s.stderr())
        before = self.message(first)["recipients"][0]

        driver = self.browser()
        wait = WebDriverWait(driver, WAIT)
        driver.get(self.base + "/")
        self.assertEqual(driver.title, "ringmail queue")
        wait.until(lambda d: "401" in d.find_element(By.ID, "notice").text)  # no token yet
        driver.find_element(By.ID, "token").send_keys(TOKEN)
        driver.find_element(By.ID, "token-save").click()
        wait.until(lambda d: self.ids(d) == {first, second})
        self.assertEqual(driver.find_element(By.ID, "count-queued").text, "2")
        self.assertEqual(driver.find_element(By.ID, "count-sent").text, "0")
        self.assertEqual(driver.find_element(By.ID, "count-error").text, "0")
        self.assertEqual(driver.execute_script("return sessionStorage.getItem('ringmail-token')"), TOKEN)
        self.assertIn("every 5 seconds", driver.find_element(By.ID, "live").text)

        # Filters: text (sender, recipient, id) and status.
        search = driver.find_element(By.ID, "text-filter")
        search.send_keys("bob@")
        wait.until(lambda d: self.ids(d) == {second})
        search.clear()
        search.send_keys(" ")  # an input event; blank matches everything
        wait.until(lambda d: self.ids(d) == {first, second})
        Select(driver.find_element(By.ID, "status-filter")).select_by_value("sent")
        wait.until(lambda d: self.ids(d) == set())
        Select(driver.find_element(By.ID, "status-filter")).select_by_value("queued")
        wait.until(lambda d: self.ids(d) == {first, second})

        # A row opens onto its recipients: status, attempts, last reply, next attempt.
        self.click(driver, first, "td.from")
        cells = wait.until(self.detail_cells)
        self.assertEqual(cells[:3], ["ann@[127.0.0.1]", "queued", str(before["attempts"])])
        self.assertTrue(cells[3] and cells[3] != "-", cells)
        self.assertEqual(cells[4], before["next_attempt"])

        # Retry: due now, so the engine tries it again at once; it stays queued.
        self.click(driver, first, "button.retry")
        wait.until(lambda d: "Retry: " + first in d.find_element(By.ID, "notice").text)
        self.assertTrue(e2e.poll(lambda: self.message(first)["recipients"][0]["attempts"] > before["attempts"],
                                 WAIT, 0.1), s.stderr())
        after = self.message(first)
        self.assertEqual(after["status"], "queued")

        # Remove, confirmed: gone from the queue and from the page.
        self.click(driver, second, "button.remove")
        alert = wait.until(expected_conditions.alert_is_present())
        self.assertIn(second, alert.text)
        alert.accept()
        wait.until(lambda d: self.ids(d) == {first})
        self.assertEqual(self.call("GET", "/api/queue/" + second)[0], 404)
        self.assertEqual([m["id"] for m in json.loads(self.call("GET", "/api/queue")[2])], [first])
        wait.until(lambda d: d.find_element(By.ID, "count-queued").text == "1")
        self.assert_stopped_cleanly(s)


if __name__ == "__main__":
    # Debian's selenium is installed for the system Python; run this file with it when the
    # Python running it (a virtual environment's, pyenv's) has none.
    if (not HAVE_SELENIUM and sys.executable != SYSTEM_PYTHON and os.access(SYSTEM_PYTHON, os.X_OK)
            and subprocess.run([SYSTEM_PYTHON, "-c", "import selenium"], capture_output=True,
                               timeout=60).returncode == 0):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    e2e.main()
