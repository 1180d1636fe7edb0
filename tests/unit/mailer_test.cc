#include "infra/mailer.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace cartgate::mail {
namespace {

namespace fs = std::filesystem;

// A real SMTP server: Debian's aiosmtpd (python3-aiosmtpd) on a free loopback port. Each
// message it accepts is written to <dir>/<n>.eml as "MAIL FROM\nRCPT TO\n\n" + the DATA
// exactly as received (after the server undoes dot-stuffing). The file is renamed into
// place before the server answers 250, so it exists when send() returns.
constexpr const char* kServerScript = R"PY(
import os, socket, sys, threading
from aiosmtpd.controller import Controller

out_dir = sys.argv[1]

class Saver:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(out_dir, "%d.eml" % self.count)
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.mail_from.encode() + b"\n")
            f.write(",".join(envelope.rcpt_tos).encode() + b"\n\n")
            f.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 OK"

s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
controller = Controller(Saver(), hostname="127.0.0.1", port=port)
controller.start()
print(port, flush=True)
threading.Event().wait()
)PY";

class MailerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/cartgate_mailer_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ / "server.py") << kServerScript;

    int out[2];
    ASSERT_EQ(pipe(out), 0);
    const std::string script = (dir_ / "server.py").string();
    const std::string mail_dir = dir_.string();
    server_pid_ = fork();
    ASSERT_GE(server_pid_, 0);
    if (server_pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the test binary
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      // The python3 on PATH may be another interpreter; aiosmtpd is Debian's.
      execl("/usr/bin/python3", "python3", script.c_str(), mail_dir.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    // Wait (bounded) for the port line.
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[64];
      const ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    close(out[0]);
    port_ = std::atoi(line.c_str());
    ASSERT_GT(port_, 0) << "aiosmtpd did not start (is python3-aiosmtpd installed?)";
  }

  static void TearDownTestSuite() {
    if (server_pid_ > 0) {
      kill(server_pid_, SIGTERM);
      waitpid(server_pid_, nullptr, 0);
      server_pid_ = -1;
    }
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  static smtp_settings settings() {
    smtp_settings s;
    s.url = "smtp://127.0.0.1:" + std::to_string(port_);
    s.timeout_ms = 5000;
    return s;
  }

  static int message_count() {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir_)) n += e.path().extension() == ".eml";
    return n;
  }

  // The newest message as received: envelope lines, a blank line, then the DATA.
  static std::string last_message() {
    const int n = message_count();
    std::ifstream in(dir_ / (std::to_string(n) + ".eml"), std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  static inline fs::path dir_;
  static inline pid_t server_pid_ = -1;
  static inline int port_ = 0;
};

const message kCodeMail{"Shop <no-reply@shop.example>", "ana@example.com", "Your verification code",
                        "Your code:\n\n04918273\n\nIt expires soon.\n"};

TEST_F(MailerTest, DeliversSubjectAndCodeLineToTheServer) {
  const send_result r = send(settings(), kCodeMail);
  ASSERT_TRUE(r.ok) << r.error;
  const std::string got = last_message();
  EXPECT_EQ(got.substr(0, got.find("\n\n")), "no-reply@shop.example\nana@example.com");
  EXPECT_NE(got.find("\r\nSubject: Your verification code\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("\r\nFrom: Shop <no-reply@shop.example>\r\n"), std::string::npos);
  EXPECT_NE(got.find("\r\nTo: ana@example.com\r\n"), std::string::npos);
  EXPECT_NE(got.find("\r\n\r\n04918273\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("Content-Type: text/plain; charset=UTF-8\r\n"), std::string::npos);
}

TEST_F(MailerTest, LinesStartingWithADotArriveIntact) {
  message m = kCodeMail;
  m.text = "first\n.\n..two dots\n.hidden\nlast";
  ASSERT_TRUE(send(settings(), m).ok);
  const std::string got = last_message();
  EXPECT_NE(got.find("\r\n\r\nfirst\r\n.\r\n..two dots\r\n.hidden\r\nlast"), std::string::npos)
      << got;
}

TEST_F(MailerTest, Utf8SubjectAndBodyArrive) {
  message m = kCodeMail;
  m.subject = "Código de verificación";
  m.text = "Olá, João\n12345678\n";
  ASSERT_TRUE(send(settings(), m).ok);
  const std::string got = last_message();
  // RFC 2047 §4.1 "B" encoding of the UTF-8 subject.
  EXPECT_NE(got.find("\r\nSubject: =?UTF-8?B?Q8OzZGlnbyBkZSB2ZXJpZmljYWNpw7Nu?=\r\n"),
            std::string::npos)
      << got;
  EXPECT_NE(got.find("\r\n\r\nOl\xc3\xa1, Jo\xc3\xa3o\r\n12345678\r\n"), std::string::npos);
  EXPECT_NE(got.find("Content-Transfer-Encoding: 8bit\r\n"), std::string::npos);
}

TEST_F(MailerTest, HeaderInjectionIsRefusedBeforeConnecting) {
  const int before = message_count();
  for (auto mutate : {+[](message& m) { m.subject += "\r\nBcc: victim@example.com"; },
                      +[](message& m) { m.subject += "\nBcc: victim@example.com"; },
                      +[](message& m) { m.to += "\r\nBcc: victim@example.com"; },
                      +[](message& m) { m.from = "a@b.example\rBcc: victim@example.com"; },
                      +[](message& m) { m.subject += std::string(1, '\0') + "x"; }}) {
    message m = kCodeMail;
    mutate(m);
    const send_result r = send(settings(), m);
    EXPECT_FALSE(r.ok);
    EXPECT_FALSE(r.error.empty());
  }
  EXPECT_EQ(message_count(), before);
}

TEST_F(MailerTest, AddressesWithoutAtSignAreRefused) {
  message m = kCodeMail;
  m.to = "not-an-address";
  EXPECT_FALSE(send(settings(), m).ok);
  m = kCodeMail;
  m.from = "Shop <>";
  EXPECT_FALSE(send(settings(), m).ok);
}

// A loopback port nobody listens on: bind to port 0 to learn a free port, then close.
int closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

TEST(Mailer, NothingListeningFailsFast) {
  smtp_settings s;
  s.url = "smtp://127.0.0.1:" + std::to_string(closed_port());
  s.timeout_ms = 2000;
  const auto start = std::chrono::steady_clock::now();
  const send_result r = send(s, kCodeMail);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.error.empty());
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
}

TEST(Mailer, SilentServerTimesOutWithinTheConfiguredBound) {
  // The kernel completes the TCP handshake on a listening socket, but no greeting ever
  // comes: only the timeout can end the exchange.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);

  smtp_settings s;
  s.url = "smtp://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  s.timeout_ms = 300;
  const auto start = std::chrono::steady_clock::now();
  const send_result r = send(s, kCodeMail);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  close(fd);
  EXPECT_FALSE(r.ok);
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  EXPECT_LT(elapsed, std::chrono::milliseconds(3000));
}

TEST(Mailer, NonMailUrlIsRefused) {
  smtp_settings s;
  s.url = "file:///etc/passwd";
  EXPECT_FALSE(send(s, kCodeMail).ok);
}

TEST(Mailer, ServerOffThisMachineRequiresTlsUnlessPlaintextIsAllowed) {
  smtp_settings s;
  for (const char* url : {"smtp://127.0.0.1:2525", "smtp://localhost", "smtp://127.8.9.10:25", "smtp://[::1]:25"}) {
    s.url = url;
    EXPECT_FALSE(requires_tls(s)) << url;
  }
  for (const char* url : {"smtp://mail.example.com:587", "smtp://10.0.0.5", "smtp://[2001:db8::1]:25",
                          "smtp://128.0.0.1", "smtp://localhost.example.com", "not a url"}) {
    s.url = url;
    EXPECT_TRUE(requires_tls(s)) << url;
  }
  s.url = "smtp://mail.example.com:587";
  s.allow_plaintext = true;
  EXPECT_FALSE(requires_tls(s));
  // A password is never sent in clear, whatever the server and the setting.
  s.username = "cartgate";
  EXPECT_TRUE(requires_tls(s));
  s.url = "smtp://127.0.0.1:2525";
  EXPECT_TRUE(requires_tls(s));
}

TEST(MailerRender, ProducesRfc5322HeadersWithCrlf) {
  // 2009-02-13 23:31:30 UTC was a Friday.
  const std::string text = render(kCodeMail, 1234567890);
  EXPECT_EQ(text.rfind("Date: Fri, 13 Feb 2009 23:31:30 +0000\r\n", 0), 0u) << text;
  EXPECT_NE(text.find("\r\nMessage-ID: <"), std::string::npos);
  EXPECT_NE(text.find("@shop.example>\r\n"), std::string::npos);
  EXPECT_NE(text.find("\r\nMIME-Version: 1.0\r\n"), std::string::npos);
  EXPECT_NE(text.find("\r\nContent-Transfer-Encoding: 7bit\r\n"), std::string::npos);
  EXPECT_NE(text.find("\r\n\r\nYour code:\r\n\r\n04918273\r\n\r\nIt expires soon.\r\n"),
            std::string::npos);
  // No bare LF anywhere.
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      ASSERT_TRUE(i > 0 && text[i - 1] == '\r') << "bare LF at " << i;
    }
  }
}

TEST(MailerRender, DateIsFormattedPast2038) {
  // 2100-01-01 00:00:00 UTC was a Friday.
  EXPECT_EQ(render(kCodeMail, 4102444800).rfind("Date: Fri, 01 Jan 2100 00:00:00 +0000\r\n", 0),
            0u);
}

TEST(MailerRender, LongUtf8SubjectIsFoldedIntoEncodedWordsOnCharacterBoundaries) {
  message m = kCodeMail;
  m.subject.clear();
  for (int i = 0; i < 40; ++i) m.subject += "é";  // 80 bytes
  const std::string text = render(m, 0);
  const auto start = text.find("Subject: ");
  const auto end = text.find("\r\nMIME-Version");
  const std::string subject = text.substr(start, end - start);
  // Two encoded words on two lines, each under the 76-character limit of RFC 2047 §2;
  // the first carries 22 whole characters (44 bytes), the second the remaining 18.
  EXPECT_EQ(subject.find("\r\n "), subject.find("?=") + 2);
  EXPECT_EQ(subject.substr(0, 9 + 10 + 60), "Subject: =?UTF-8?B?" +
                                                std::string("w6nDqcOpw6nDqcOpw6nDqcOpw6nD") +
                                                "qcOpw6nDqcOpw6nDqcOpw6nDqcOpw6k=");
}

TEST(MailerRender, HeaderInjectionThrows) {
  message m = kCodeMail;
  m.subject = "hi\r\nBcc: x@y.example";
  EXPECT_THROW(render(m, 0), std::invalid_argument);
}

}  // namespace
}  // namespace cartgate::mail
