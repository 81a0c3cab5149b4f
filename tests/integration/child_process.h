// child_process.h - a child process whose stdout is read line by line with bounded waits, and
// which is always killed and reaped when the object goes away (also when a test fails).
// Used by the integration driver and by the bench orchestrator.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char **environ;

namespace ntm_test {

class ChildProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts argv[0] with stdout on a pipe; stdin is /dev/null (or, with `stdin_pipe`, a pipe that
  // write_line() feeds), stderr is inherited. When `echo_to_stderr` is set, each stdout line is
  // also copied to our stderr as "[name] line", so a failing test's log shows the whole
  // conversation.
  ChildProcess(std::string name, const std::vector<std::string> &argv, bool echo_to_stderr = true,
               bool stdin_pipe = false)
      : name_(std::move(name)), echo_(echo_to_stderr) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2: " + std::string(strerror(errno)));
    int in[2] = {-1, -1};
    if (stdin_pipe && pipe2(in, O_CLOEXEC) != 0) {
      close(fds[0]);
      close(fds[1]);
      throw std::runtime_error("pipe2: " + std::string(strerror(errno)));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (stdin_pipe) {
      posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    } else {
      posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    }
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    std::vector<char *> args;
    for (const auto &a : argv) args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (stdin_pipe) close(in[0]);
    in_fd_ = in[1];
    if (rc != 0) {
      close(fds[0]);
      if (in_fd_ >= 0) close(in_fd_);
      in_fd_ = -1;
      pid_ = -1;
      throw std::runtime_error("posix_spawn " + argv[0] + ": " + strerror(rc));
    }
    out_fd_ = fds[0];
  }

  ChildProcess(const ChildProcess &) = delete;
  ChildProcess &operator=(const ChildProcess &) = delete;

  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    if (out_fd_ >= 0) close(out_fd_);
    if (in_fd_ >= 0) close(in_fd_);
  }

  // Writes `line` and a newline to the child's stdin (constructed with `stdin_pipe`); false when
  // it cannot (no pipe, or the child closed its end: the caller ignores SIGPIPE).
  bool write_line(std::string_view line) {
    if (in_fd_ < 0) return false;
    std::string text(line);
    text += '\n';
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(in_fd_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads stdout until a line starting with `prefix` arrives; nullopt on timeout or end of output.
  std::optional<std::string> wait_for_line(std::string_view prefix, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    size_t checked = 0;
    for (;;) {
      for (; checked < lines_.size(); ++checked) {
        if (lines_[checked].starts_with(prefix)) return lines_[checked];
      }
      if (!read_some(deadline)) return std::nullopt;
    }
  }

  // Reads stdout until a line at index `from` or later starts with `prefix` and satisfies `pred`;
  // returns its index, or nullopt on timeout or end of output.
  template <class Pred>
  std::optional<size_t> wait_for_line_from(size_t from, std::string_view prefix, Pred pred,
                                           std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    size_t checked = from;
    for (;;) {
      for (; checked < lines_.size(); ++checked) {
        if (lines_[checked].starts_with(prefix) && pred(lines_[checked])) return checked;
      }
      if (!read_some(deadline)) return std::nullopt;
    }
  }

  // Reads the rest of stdout and reaps the child. Returns its exit code, 128 + signal if a signal
  // ended it, or -1 if it did not finish in time (it is then killed).
  int wait_exit(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (out_fd_ >= 0 && read_some(deadline)) {
    }
    if (out_fd_ >= 0) return give_up();  // timed out with the pipe still open
    if (!wait_reaped(deadline)) return give_up();
    return exit_code_;
  }

  // Sends a signal (e.g. SIGTERM) to the child.
  void send_signal(int sig) const {
    if (pid_ > 0 && !reaped_) kill(pid_, sig);
  }

  const std::vector<std::string> &lines() const { return lines_; }
  std::vector<std::string> lines_starting(std::string_view prefix) const {
    std::vector<std::string> out;
    for (const auto &l : lines_)
      if (l.starts_with(prefix)) out.push_back(l);
    return out;
  }
  const std::string &name() const { return name_; }

 private:
  int give_up() {
    fprintf(stderr, "[%s] did not finish in time; killing pid %d\n", name_.c_str(), static_cast<int>(pid_));
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return -1;
  }

  // Waits (bounded) for the child to exit after its stdout closed.
  bool wait_reaped(Clock::time_point deadline) {
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    for (;;) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (pidfd >= 0) close(pidfd);
        return true;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        if (pidfd >= 0) close(pidfd);
        return false;
      }
      if (pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};  // readable when the process has exited
        poll(&p, 1, static_cast<int>(left.count()));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // kernels without pidfd
      }
    }
  }

  // Reads what is available (waiting until the deadline); false on timeout or end of output.
  bool read_some(Clock::time_point deadline) {
    if (out_fd_ < 0) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{out_fd_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) return true;
    if (r <= 0) return false;
    char buf[4096];
    ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) {
      close(out_fd_);
      out_fd_ = -1;
      if (!partial_.empty()) add_line(std::move(partial_));
      return false;
    }
    partial_.append(buf, static_cast<size_t>(n));
    size_t pos;
    while ((pos = partial_.find('\n')) != std::string::npos) {
      add_line(partial_.substr(0, pos));
      partial_.erase(0, pos + 1);
    }
    return true;
  }

  void add_line(std::string line) {
    if (echo_) fprintf(stderr, "[%s] %s\n", name_.c_str(), line.c_str());
    lines_.push_back(std::move(line));
  }

  std::string name_;
  bool echo_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int in_fd_ = -1;  // the child's stdin, when piped
  bool reaped_ = false;
  int exit_code_ = -1;
  std::string partial_;
  std::vector<std::string> lines_;
};

}  // namespace ntm_test
