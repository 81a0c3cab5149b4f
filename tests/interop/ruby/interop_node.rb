#!/usr/bin/env ruby
# frozen_string_literal: true

# interop_node.rb: the Ruby node of the interop suite (tests/interop/README.md is its spec): a
# control-plane node that either serves the interop protocol or runs the client steps against a
# server node by FQDN, printing one record per stdout line.
#
#   ruby -I bindings/ruby/lib -I bindings/ruby/tmp/lib tests/interop/ruby/interop_node.rb \
#     server|client --server HOST:PORT --server-cert PEM --account NAME --password PW
#     [--state DIR] [--listen HOST:PORT]... [--port 7000] [--log LEVEL]
#     client only: --peer FQDN [--bytes 8388608] [--family 4|6|both] [--udp-count 5]
#     [--rate-mbps R]
#
# This file parses the command line and starts the node; interop_server.rb and
# interop_client.rb are the two roles. Exit status: 0 success, 1 failure, 2 bad arguments.
begin
  require "ntm"
rescue LoadError
  # Run without -I: use the repository's binding (cd bindings/ruby && rake compile).
  binding_dir = File.expand_path("../../../bindings/ruby", __dir__)
  $LOAD_PATH.unshift(File.join(binding_dir, "lib"), File.join(binding_dir, "tmp", "lib"))
  require "ntm"
end
require_relative "interop_support"
require_relative "interop_server"
require_relative "interop_client"
require_relative "interop_http"

module Interop
  # The parsed command line.
  Config = Struct.new(:role, :server, :server_certificate, :account, :password, :state, :listen,
                      :log, :port, :peer, :bytes, :families, :udp_count, :rate_mbps,
                      :http_port, keyword_init: true) do
    def server?
      role == "server"
    end

    def node_options
      options = { server: server, server_certificate: server_certificate, account: account,
                  password: password, state_dir: state, log_level: log.to_sym }
      return options if listen.empty?

      # Once --listen is given, a family without one is off ("" disables it).
      options.merge(listen_ipv4: listen.find { |a| !a.start_with?("[") } || "",
                    listen_ipv6: listen.find { |a| a.start_with?("[") } || "")
    end
  end

  # Turns argv into a Config, or exits 2 with a message naming the problem.
  module CommandLine
    USAGE = <<~TEXT
      usage: interop_node.rb server|client --server HOST:PORT --server-cert PEM_FILE --account NAME
                             --password PW [--state DIR] [--listen HOST:PORT]... [--port 7000]
                             [--log LEVEL]
        client only:         --peer FQDN [--bytes 8388608] [--family 4|6|both] [--udp-count 5]
                             [--rate-mbps R]
      The interop node of tests/interop/README.md: records on stdout, diagnostics and the library
      log (--log off|error|warn|info|debug) on stderr. --listen binds the node's real UDP socket
      (repeat per family: 127.0.0.1:0, [::1]:0; families not listed are off).
    TEXT
    CLIENT_OPTIONS = %w[--peer --bytes --family --udp-count --rate-mbps].freeze
    REQUIRED = { "--server" => :server, "--server-cert" => :server_certificate,
                 "--account" => :account, "--password" => :password }.freeze
    LOG_LEVELS = %w[off error warn info debug].freeze
    FAMILIES = { "4" => [4], "6" => [6], "both" => [4, 6] }.freeze

    module_function

    def parse(argv)
      if argv.first == "--help" || argv.first == "-h"
        $stdout.write(USAGE)
        exit 0
      end
      role = argv.first
      bad("the first argument must be 'server' or 'client', not '#{role}'") unless %w[server client].include?(role)

      config = Config.new(role: role, listen: [], log: "warn", port: 7000, bytes: 8_388_608,
                          families: [4, 6], udp_count: 5)
      argv.drop(1).each_slice(2) { |option, value| apply(config, option, value) }
      check(config, argv)
      config
    end

    def apply(config, option, value)
      bad(option.start_with?("-") ? "option #{option} needs a value" : "unexpected argument '#{option}'") if value.nil?
      key = REQUIRED[option]
      return config[key] = value if key

      case option
      when "--state" then config.state = value
      when "--listen" then config.listen << value
      when "--log" then config.log = choice(option, value, LOG_LEVELS)
      when "--port" then config.port = integer(option, value, 1, 65_535)
      when "--http-port" then config.http_port = integer(option, value, 1, 65_535)
      when "--peer" then config.peer = value
      when "--bytes" then config.bytes = integer(option, value, 0, 1_000_000_000_000)
      when "--family" then config.families = FAMILIES.fetch(choice(option, value, FAMILIES.keys))
      when "--udp-count" then config.udp_count = integer(option, value, 0, 10_000)
      when "--rate-mbps" then config.rate_mbps = number(option, value, 0.001, 100_000)
      else bad("unknown option '#{option}' (see --help)")
      end
    end

    def check(config, argv)
      REQUIRED.each { |option, key| bad("#{option} is required (control-plane mode)") unless config[key] }
      options = argv.drop(1).each_slice(2).map(&:first)
      if config.server? && !(options & CLIENT_OPTIONS).empty?
        bad("#{CLIENT_OPTIONS.join(', ')} are client options")
      end
      bad("client needs --peer FQDN") if !config.server? && config.peer.nil?
    end

    def choice(option, value, allowed)
      return value if allowed.include?(value)

      bad("#{option} must be one of #{allowed.join(', ')}, not '#{value}'")
    end

    def integer(option, value, min, max)
      number = Integer(value, 10, exception: false)
      return number if number && number >= min && number <= max

      bad("#{option} must be a whole number from #{min} to #{max}, not '#{value}'")
    end

    def number(option, value, min, max)
      number = Float(value, exception: false)
      return number if number && number >= min && number <= max

      bad("#{option} must be a number from #{min} to #{max}, not '#{value}'")
    end

    def bad(problem)
      $stderr.write("interop_node.rb: #{problem}\n\n#{USAGE}")
      exit 2
    end
  end

  module_function

  def main(argv)
    started = now
    config = CommandLine.parse(argv)
    stop_signals = StopSignals.install if config.server?
    begin
      info = NTM.start(**config.node_options)
    rescue NTM::Error, ArgumentError, TypeError => e
      warn("cannot start the node as account '#{config.account}' at #{config.server}: #{e.message}")
      return 1
    end
    if config.server?
      HTTP.start_server(config.http_port) if config.http_port
      Server.new(config, info, stop_signals).run
    else
      status = Client.new(config, started + DEADLINE_S).run
      return 1 if status.zero? && config.http_port && !HTTP.request(config.peer, config.http_port)

      status
    end
  ensure
    stop_node
  end

  def stop_node
    NTM.stop if NTM.running?
  rescue NTM::Error
    nil # stopped meanwhile
  end
end

exit Interop.main(ARGV) if $PROGRAM_NAME == __FILE__
