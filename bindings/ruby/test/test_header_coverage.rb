# frozen_string_literal: true

require_relative "test_helper"

# The binding covers ntm.h: every field of a header struct has its Ruby counterpart (start option,
# Struct member), every enum value its constant and every error code its NTM::Error#code. A
# field added to the header without a binding field fails here.
class TestHeaderCoverage < Minitest::Test
  include NTMTest
  include NTMTest::Helpers

  HEADER = File.expand_path("../../../c-api/include/ntm.h", __dir__)

  def header
    @header ||= File.read(HEADER)
  end

  # The fields of `typedef struct NAME { ... } NAME;`, as Symbols in order.
  def struct_fields(name)
    body = header[/typedef struct #{name} \{(.*?)\} #{name};/m, 1]
    refute_nil body, "#{name} not found in ntm.h"
    body.gsub(%r{/\*.*?\*/}m, "").scan(/(\w+)(?:\[[^\]]*\])?;/).flatten.map(&:to_sym)
  end

  def enum_values(prefix)
    values = header.scan(/\b#{prefix}([A-Z0-9_]+)\s*=\s*(-?\d+)/).to_h { |n, v| [n, Integer(v)] }
    refute_empty values, prefix
    values
  end

  def test_every_option_is_a_start_option
    # Timers are given in seconds, without the _ms suffix; the event callback is NTM.start's block.
    fields = struct_fields(:ntm_options) - %i[version peer_count event_cb event_user_data]
    expected = fields.map { |f| f.to_s.delete_suffix("_ms").to_sym }
    assert_equal [], expected - NTM::START_OPTIONS, "ntm_options fields NTM.start does not take"
  end

  def test_every_peer_field_is_a_peer_option
    assert_equal struct_fields(:ntm_static_peer) - [:version], NTM::PEER_OPTIONS
  end

  def test_every_struct_field_is_a_struct_member
    assert_equal struct_fields(:ntm_node_info) - [:version], NTM::NodeInfo.members
    assert_equal struct_fields(:ntm_tunnel_info), NTM::Tunnel.members
    assert_equal struct_fields(:ntm_stats) - [:version], NTM::Stats.members
    assert_equal struct_fields(:ntm_event), NTM::Event.members
  end

  def test_the_native_layer_fills_every_member
    line_connection.tap { |s| s.puts "PING" }.gets # a tunnel with traffic
    stats = NTM.stats
    assert_equal [], NTM::Stats.members.select { |m| stats[m].nil? }, "stats members left nil"
    tunnel = NTM.tunnels.find { |t| t.peer_name == PEER_NAME }
    optional = %i[virtual_ipv4 virtual_ipv6 endpoint] # nil where the header has ""
    assert_equal [], (NTM::Tunnel.members - optional).select { |m| tunnel[m].nil? }
    info = NTM.info
    assert_equal [], (NTM::NodeInfo.members - %i[virtual_ipv4 virtual_ipv6 endpoint_ipv4 endpoint_ipv6]).select { |m| info[m].nil? }
  end

  def test_every_enum_value_has_a_constant_and_a_symbol
    assert_equal enum_values("NTM_EVENT_").transform_keys { |k| k.downcase.to_sym }.invert, NTM::EVENT_TYPES
    assert_equal enum_values("NTM_PATH_").transform_keys { |k| k.downcase.to_sym }.invert, NTM::PATHS
    assert_equal enum_values("NTM_TUNNEL_").transform_keys { |k| k.downcase.to_sym }.invert, NTM::TUNNEL_STATES
    assert_equal enum_values("NTM_CIPHER_").transform_keys { |k| k.downcase.to_sym }, NTM::CIPHERS
    assert_equal enum_values("NTM_LOG_").transform_keys { |k| k.downcase.to_sym }, NTM::LOG_LEVELS
  end

  def test_every_error_code_has_its_own_symbol
    codes = enum_values("NTM_").select { |name, value| value.negative? && name != "ERROR" }
    refute_empty codes
    codes.each do |name, value|
      assert_equal name.downcase.to_sym, NTM::Native.error_symbol(value), "NTM_#{name}"
    end
    assert_equal :error, NTM::Native.error_symbol(-1)
  end
end
