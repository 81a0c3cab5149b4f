# frozen_string_literal: true

require_relative "test_helper"
require "logger"
require "stringio"

# NTM.logger = Logger: libntm's lines reach a Ruby Logger, with severity and component.
class TestLogging < Minitest::Test
  include NTMTest
  include NTMTest::Helpers

  def teardown
    NTM.log_level = :warn
    NTM.logger = nil
    super
  end

  def test_library_lines_reach_a_ruby_logger_with_severity_and_component
    out = StringIO.new
    logger = Logger.new(out)
    logger.formatter = ->(severity, _time, progname, message) { "#{severity} #{progname} #{message}\n" }
    NTM.logger = logger
    NTM.log_level = :info
    NTM.notify_network_change
    wait_until(10, "a network change line") { out.string.include?("network changed") }
    line = out.string.lines.find { |l| l.include?("network changed") }
    assert_match(/\AINFO ntm\.node network changed/, line)
  end

  def test_removing_the_logger_stops_the_lines
    out = StringIO.new
    NTM.logger = Logger.new(out)
    NTM.logger = nil
    NTM.log_level = :info
    before = NTM.stats.network_changes
    NTM.notify_network_change
    wait_until(10, "the change to be handled") { NTM.stats.network_changes > before }
    assert_empty out.string
  end
end
