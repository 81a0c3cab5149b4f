# frozen_string_literal: true

module NTM
  # Version of this Ruby binding (libntm's own version: NTM.library_version): the project's
  # VERSION file, next to lib/ in the gem (in the repository, a link to the root's VERSION).
  VERSION = File.read(File.expand_path("../../VERSION", __dir__)).strip
end
