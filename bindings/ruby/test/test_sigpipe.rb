# frozen_string_literal: true

# No call into libntm may raise SIGPIPE (issue 13): an Account Server that closes the TLS
# connection during login once killed the host process with status 141. Ruby installs its own
# SIGPIPE handler at start-up, which would hide the bug, so each check runs in a fresh Ruby that
# first restores the system default (trap "SYSTEM_DEFAULT") and then logs in again and again to
# ntm-hostile-as (from the C++ test build), an AS that closes connections in every awkward way.
# The process must survive every attempt and see each login fail cleanly.
require "minitest/autorun"
require "open3"
require "rbconfig"
require "timeout"
require "ntm"
require_relative "support"

class TestSigpipe < Minitest::Test
  CHILD = <<~'RUBY'
    Signal.trap("PIPE", "SYSTEM_DEFAULT")
    require "ntm"
    endpoint, cert, count = ARGV[0], ARGV[1], Integer(ARGV[2])
    failed = 0
    count.times do
      NTM.start(server: endpoint, server_certificate: cert, account: "alice", password: "pw",
                listen_ipv4: "127.0.0.1:0", listen_ipv6: "", start_timeout: 0.001)
      NTM.stop
    rescue NTM::Error
      failed += 1
    end
    puts "RESULT attempts=#{count} failed=#{failed}"
  RUBY

  def hostile_as_binary
    repo = File.expand_path("../../..", __dir__)
    build = ENV.fetch("NTM_BUILD_DIR", File.join(repo, "build"))
    path = ENV.fetch("NTM_HOSTILE_AS", File.join(build, "tests", "integration", "ntm-hostile-as"))
    return path if File.executable?(path)

    flunk("#{path} not found: build the repository's tests first (or set NTM_HOSTILE_AS)")
  end

  def with_hostile_as(mode)
    pid = nil
    out_r, out_w = IO.pipe
    pid = Process.spawn(hostile_as_binary, "--mode", mode, "--timeout", "240", out: out_w)
    out_w.close
    line = NTMTest.read_line(out_r, 30)
    assert line&.start_with?("READY "), "ntm-hostile-as did not start: #{line.inspect}"
    fields = line.split[1..].to_h { |item| item.split("=", 2) }
    yield fields.fetch("endpoint"), fields.fetch("cert")
  ensure
    if pid
      Process.kill("TERM", pid)
      begin
        Timeout.timeout(30) { Process.wait(pid) }
      rescue Timeout::Error
        Process.kill("KILL", pid)
        Process.wait(pid)
      end
    end
    out_r&.close
  end

  def check_logins(mode)
    with_hostile_as(mode) do |endpoint, cert|
      count = 24
      stdout, stderr, status = Timeout.timeout(180) do
        Open3.capture3(RbConfig.ruby, *NTMTest.load_path_flags, "-e", CHILD, endpoint, cert, count.to_s)
      end
      killed = status.termsig == Signal.list["PIPE"] ? " (killed by SIGPIPE)" : ""
      assert status.success?, "child #{status.inspect}#{killed}: #{stderr[-2000..] || stderr}"
      assert_includes stdout, "RESULT attempts=#{count} failed=#{count}"
    end
  end

  def test_logins_against_an_as_that_answers_then_resets_never_raise_sigpipe
    check_logins("respond-fin-rst")
  end

  def test_a_burst_of_logins_against_an_as_that_closes_in_every_way_never_raises_sigpipe
    check_logins("mixed")
  end
end
