# frozen_string_literal: true

require "logger"

module NTM
  # libntm's log lines in a Ruby Logger:
  #
  #   NTM.logger = Logger.new($stderr)   # or Rails.logger, ...
  #   NTM.log_level = :info              # which lines the library produces (NTM.start sets it
  #                                      # again from its log_level: option)
  #
  # Each line is logged with its component as progname ("ntm.node", "ntm.tunnel"...), at the
  # matching severity, from a Ruby thread ("ntm-log") in the order the library logged them.
  # NTM.logger = nil sends the lines back to stderr.
  module Logging
    SEVERITIES = { 1 => Logger::ERROR, 2 => Logger::WARN, 3 => Logger::INFO, 4 => Logger::DEBUG }.freeze
    LEVELS = { off: 0, error: 1, warn: 2, info: 3, debug: 4 }.freeze

    @mutex = Mutex.new
    @logger = nil
    @thread = nil

    class << self
      attr_reader :logger

      def logger=(logger)
        @mutex.synchronize do
          stop
          @logger = logger
          start if logger
        end
      end

      def level=(level)
        Native.set_log_level(level.is_a?(Integer) ? level : LEVELS.fetch(level.to_sym))
      end

      private

      def start
        io = IO.for_fd(Native.log_start, autoclose: true)
        logger = @logger
        @thread = Thread.new { run(io, logger) }
        @thread.name = "ntm-log" if @thread.respond_to?(:name=)
      end

      def stop
        return unless @thread

        Native.log_stop # closes the pipe's write end: the thread reads EOF after the last line
        @thread.join(5)
        @thread = nil
      end

      def run(io, logger)
        loop do
          chunk = begin
            io.read_nonblock(4096, exception: false)
          rescue IOError
            nil
          end
          if chunk == :wait_readable
            io.wait_readable
            next
          end
          deliver(logger)
          break if chunk.nil?
        end
      ensure
        io.close unless io.closed?
      end

      def deliver(logger)
        Native.drain_log.each do |level, component, message|
          logger.add(SEVERITIES.fetch(level, Logger::INFO), message, component.empty? ? "ntm" : "ntm.#{component}")
        end
      rescue StandardError => e
        warn "ntm: the logger raised #{e.class}: #{e.message}"
      end
    end
  end

  class << self
    # The Logger that receives libntm's lines (nil: they go to stderr).
    def logger
      Logging.logger
    end

    def logger=(logger)
      Logging.logger = logger
    end

    # Which lines libntm logs from now on: :off, :error, :warn, :info, :debug.
    def log_level=(level)
      Logging.level = level
    end
  end
end

at_exit { NTM::Logging.logger = nil }
