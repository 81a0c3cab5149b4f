# frozen_string_literal: true

# Shared set-up for the Ruby binding's tests (see support.rb for the two nodes).
require "minitest/autorun"
require "digest"
require_relative "support"

# Threads that tests make fail on purpose (killed, closed under them) need not print.
Thread.report_on_exception = false

module NTMTest
  # The peer process and this process's node, started once for the whole run and stopped (the
  # peer reaped, or killed by PID) when it ends.
  class Fixture
    attr_reader :events, :peer

    # Started by the first test; a failure to start fails every test at once (no retries).
    def self.instance
      raise @failure if @failure

      @instance ||= new.tap(&:start)
    rescue StandardError => e
      @failure = e
      raise
    end

    def start
      @events = Queue.new
      @peer = Peer.spawn(os_sink: false)
      @peer.start_client_node { |event| @events << [event, Thread.current] }
      Minitest.after_run { @peer.stop }
    rescue StandardError
      @peer&.stop
      raise
    end

    def peer_endpoint
      @peer.endpoint
    end
  end

  # Included by every test class: the fixture, and bounded waits.
  module Helpers
    def setup
      @fixture = Fixture.instance
      @closables = []
    end

    def teardown
      @closables.each { |io| io.close unless io.closed? }
    end

    # Registers an IO (or anything with close/closed?) to close after the test.
    def closing(io)
      @closables << io
      io
    end

    def within(seconds, what = "operation", &block)
      Timeout.timeout(seconds, Minitest::Assertion, "#{what} took longer than #{seconds} s", &block)
    end

    def monotonic
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    # Waits (bounded) until the block is true; fails the test otherwise.
    def wait_until(seconds, what)
      deadline = monotonic + seconds
      until yield
        flunk "#{what}: not true within #{seconds} s" if monotonic > deadline
        Thread.pass
        sleep 0.005
      end
    end

    # Waits until thread is blocked (status "sleep"), i.e. parked in a wait that released the GVL.
    def wait_blocked(thread, seconds = 10)
      wait_until(seconds, "thread blocked") { thread.status == "sleep" || !thread.alive? }
      assert thread.alive?, -> { "thread ended instead of blocking: #{(thread.value rescue $!).inspect}" }
    end

    def line_connection(host = PEER_NAME)
      closing(NTMTCPSocket.new(host, LINE_PORT))
    end

    # Runs a child Ruby process with the same load path; returns [output, status]. A child
    # still running after timeout seconds is killed and the test fails.
    def run_child(script, timeout: 30)
      with_child(script) do |io, pid|
        output = +""
        deadline = monotonic + timeout
        while (chunk = read_until(io, deadline))
          output << chunk
        end
        flunk "child process still running after #{timeout} s; output: #{output}" unless child_exited?(pid, deadline)
        [output, $?]
      end
    end

    # Spawns a child Ruby process (stdout and stderr to one pipe); yields [io, pid]. The child is
    # killed (by its PID) if it is still running when the block ends.
    def with_child(script)
      read, write = IO.pipe
      pid = Process.spawn(RbConfig.ruby, *NTMTest.load_path_flags, "-e", script, out: write, err: write)
      write.close
      yield read, pid
    ensure
      write&.close unless write&.closed?
      if pid
        begin
          Process.kill(:KILL, pid) unless Process.wait(pid, Process::WNOHANG)
          Process.wait(pid)
        rescue Errno::ESRCH, Errno::ECHILD
          nil
        end
      end
      read&.close
    end

    private

    def read_until(io, deadline)
      remaining = deadline - monotonic
      return nil if remaining <= 0 || !io.wait_readable(remaining)

      io.read_nonblock(4096, exception: false).then { |chunk| chunk == :wait_readable ? +"" : chunk }
    end

    def child_exited?(pid, deadline)
      loop do
        return true if Process.wait(pid, Process::WNOHANG)
        return false if monotonic > deadline

        sleep 0.01
      end
    end
  end
end
