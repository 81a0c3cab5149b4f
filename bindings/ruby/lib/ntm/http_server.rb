# frozen_string_literal: true

require "webrick"
require_relative "../ntm" unless defined?(NTMTCPServer)

module NTM
  # HTTP servers on the node's virtual addresses: WEBrick and Rack applications.
  #
  #   require "ntm/http_server"
  #   server = NTM::HTTPServer.webrick(8080)               # a WEBrick::HTTPServer
  #   server.mount_proc("/") { |req, res| res.body = "hello" }
  #   server.start                                          # (server.shutdown to stop)
  #
  #   NTM::HTTPServer.rack(app, Port: 8080)                 # a Rack app; also `rackup -s ntm`
  module HTTPServer
    module_function

    # A WEBrick::HTTPServer listening on NTMTCPServer(host, port) (host nil: every virtual
    # address of the node). config goes to WEBrick (Logger:, AccessLog:, ...).
    def webrick(port, host: nil, **config)
      server = WEBrick::HTTPServer.new({ Port: port, BindAddress: host, DoNotListen: true,
                                         ServerName: NTM.running? ? NTM.info.name : nil }.merge(config))
      server.listeners << NTMTCPServer.new(host, port)
      server
    end

    # Serves a Rack application on WEBrick over ntmobile until interrupted (or the yielded
    # server is shut down). options: Port:, Host:, and WEBrick's own.
    def rack(app, **options)
      require "rack"
      require "rack/handler/webrick"
      port = Integer(options.delete(:Port) || 8080)
      host = options.delete(:Host)
      server = webrick(port, host: host, **options)
      server.mount "/", Rack::Handler::WEBrick, app
      yield server if block_given?
      server.start
    end
  end
end

begin
  require "rack"
  module Rack
    module Handler
      # `rackup -s ntm` / Rack::Handler.get(:ntm): the application served over ntmobile (start
      # the node first, e.g. in config.ru).
      module NTM
        def self.run(app, **options, &block)
          ::NTM::HTTPServer.rack(app, **options, &block)
        end
      end
      register :ntm, NTM if respond_to?(:register)
    end
  end
rescue LoadError
  # Rack is optional: NTM::HTTPServer.webrick works without it.
end
