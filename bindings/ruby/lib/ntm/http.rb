# frozen_string_literal: true

require "net/http"
require_relative "../ntm" unless defined?(NTMTCPSocket)

module NTM
  # Net::HTTP over ntmobile: host names are node names (resolved by the node, never DNS) and
  # connections are NTMTCPSockets. Everything else is Net::HTTP's own - start, get, post,
  # request, keep-alive, use_ssl (the certificate is checked against the node name), timeouts:
  #
  #   require "ntm/http"
  #   NTM::HTTP.start("bob.example", 8080) { |http| http.get("/").body }
  #   NTM::HTTP.get(URI("http://bob.example:8080/"))
  #
  # Proxies are never used (environment variables included): they could not reach a virtual
  # address.
  class HTTP < Net::HTTP
    # Net::HTTP#connect opens its socket with Socket.tcp (net-http 0.2+) or TCPSocket.open
    # (older); while an NTM::HTTP connects - on that thread only - both give an NTMTCPSocket.
    module OpenThroughNTM
      # An NTMTCPSocket for Socket.tcp/TCPSocket.open's arguments; with a block, yields it and
      # closes it afterwards (as they do).
      def self.socket(args, keywords)
        socket = NTMTCPSocket.new(*args, **keywords.slice(:connect_timeout))
        return socket unless block_given?

        begin
          yield socket
        ensure
          socket.close unless socket.closed?
        end
      end

      # Socket.tcp
      module Tcp
        def tcp(*args, **keywords, &block)
          return super unless Thread.current[:ntm_http_connecting]

          OpenThroughNTM.socket(args, keywords, &block)
        end
      end

      # TCPSocket.open
      module Open
        def open(*args, **keywords, &block)
          return super unless Thread.current[:ntm_http_connecting] && !equal?(NTMTCPSocket)

          OpenThroughNTM.socket(args, keywords, &block)
        end
      end
    end
    Socket.singleton_class.prepend(OpenThroughNTM::Tcp)
    TCPSocket.singleton_class.prepend(OpenThroughNTM::Open)

    class << self
      # As Net::HTTP.new, without proxies.
      def new(address, port = nil, *_proxy)
        super(address, port, nil)
      end
    end

    def proxy?
      false
    end

    private

    def connect
      Thread.current[:ntm_http_connecting] = true
      super
    ensure
      Thread.current[:ntm_http_connecting] = nil
    end
  end
end
