# frozen_string_literal: true

require_relative "test_helper"
require "ntm/http"
require "ntm/http_server"
require "json"

# NTM::HTTP (Net::HTTP), WEBrick and Rack over ntmobile: this node serves, its clients reach it
# by node name through the virtual stack.
class TestHTTP < Minitest::Test
  include NTMTest
  include NTMTest::Helpers

  def serve(server)
    thread = Thread.new { server.start }
    wait_until(10, "server running") { server.status == :Running }
    yield
  ensure
    server.shutdown
    thread&.join(10)
  end

  def quiet
    { Logger: WEBrick::Log.new(File::NULL), AccessLog: [] }
  end

  def test_net_http_client_against_a_webrick_server_by_node_name
    server = NTM::HTTPServer.webrick(7690, **quiet)
    server.mount_proc("/") do |req, res|
      res.body = JSON.generate(path: req.path, client: req.peeraddr[3], body: req.body.to_s)
    end
    serve(server) do
      name = NTM.info.name
      NTM::HTTP.start(name, 7690) do |http|
        2.times do |i| # keep-alive: one connection, two requests
          reply = JSON.parse(http.post("/r#{i}", "hello").body)
          assert_equal "/r#{i}", reply["path"]
          assert_equal "hello", reply["body"]
          assert_equal NTM.info.virtual_ipv4, reply["client"]
        end
      end
      assert_equal "/get", JSON.parse(NTM::HTTP.get(URI("http://#{name}:7690/get")))["path"]
    end
  end

  def test_the_environment_proxy_is_not_used
    ENV["http_proxy"] = "http://127.0.0.1:9"
    refute NTM::HTTP.new("bob.example", 80).proxy?
  ensure
    ENV.delete("http_proxy")
  end

  def test_plain_net_http_is_not_redirected
    # Only NTM::HTTP connects through ntmobile; Net::HTTP keeps the kernel's sockets (loopback).
    kernel = TCPServer.new("127.0.0.1", 0)
    port = kernel.addr[1]
    accepted = Thread.new { kernel.accept.tap { |c| c.write("HTTP/1.1 204 No Content\r\n\r\n") } }
    response = Net::HTTP.start("127.0.0.1", port) { |http| http.get("/") }
    assert_equal "204", response.code
    accepted.value.close
  ensure
    kernel&.close
  end

  def test_rack_application_through_the_ntm_handler
    app = ->(env) { [200, { "content-type" => "text/plain" }, ["rack #{env['PATH_INFO']} #{env['REMOTE_ADDR']}"]] }
    handler = Rack::Handler.get(:ntm)
    server = nil
    runner = Thread.new { handler.run(app, Port: 7691, **quiet) { |s| server = s } }
    wait_until(10, "rack server running") { server && server.status == :Running }
    body = NTM::HTTP.get(URI("http://#{NTM.info.name}:7691/app"))
    assert_equal "rack /app #{NTM.info.virtual_ipv4}", body
  ensure
    server&.shutdown
    runner&.join(10)
  end
end
