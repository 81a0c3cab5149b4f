# frozen_string_literal: true

# HTTP between the interop nodes (tests/interop/README.md, "HTTP"): the server's HTTP service
# (WEBrick on an NTMTCPServer) and the client's one request (NTM::HTTP).
require "ntm/http"
require "ntm/http_server"

module Interop
  module HTTP
    module_function

    def start_server(port)
      server = NTM::HTTPServer.webrick(port, Logger: WEBrick::Log.new(File::NULL), AccessLog: [])
      server.mount_proc("/") { |request, response| response.body = "HTTP #{LANG} #{request.path}" }
      Thread.new { server.start }
      server
    end

    # GET http://peer:port/from-ruby; prints HTTP (or FAIL step=http); true when it worked.
    def request(peer, port)
      path = "/from-#{LANG}"
      response = NTM::HTTP.start(peer, port, open_timeout: 20, read_timeout: 20) { |http| http.get(path) }
      words = response.body.to_s.split(" ")
      ok = response.code == "200" && words.size == 3 && words[0] == "HTTP" && words[2] == path
      Interop.record("HTTP", status: response.code, peer_lang: words.size == 3 ? words[1] : "?",
                             path: ok ? "ok" : "bad")
      ok
    rescue StandardError => e
      Interop.record("FAIL", step: "http", reason: e.class.name.gsub("::", "."))
      false
    end
  end
end
