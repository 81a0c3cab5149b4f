# Java binding (bindings/java): a JDK 17 and Maven, and the Maven artifacts its build and tests
# use, fetched into ~/.m2 once. Sourced by ci/deps.sh (which defines ensure_packages, log, root).

if ! command -v javac >/dev/null 2>&1 || ! javac -version 2>&1 | grep -Eq 'javac (1[7-9]|[2-9][0-9])'; then
  ensure_packages openjdk-17-jdk-headless
fi
command -v mvn >/dev/null 2>&1 || ensure_packages maven

java_pom="$root/bindings/java/pom.xml"
if [ -f "$java_pom" ]; then
  # One marker per pom.xml content: a changed pom (new versions) fetches again.
  java_marker="${HOME:-/root}/.m2/ntm-java-deps-$(sha256sum "$java_pom" | cut -c1-16)"
  if [ ! -e "$java_marker" ]; then
    log "fetching the Java binding's Maven dependencies and plugins"
    # dependency:go-offline misses what plugins resolve at run time (Surefire's JUnit provider,
    # plexus-utils): so also run the build's phases once without libntm (not built yet): the
    # native copy skipped, only the test class that needs no libntm; then clean up.
    # -Pdist: the -sources/-javadoc plugins of the packaging suite too.
    if mvn -B -q -ntp -f "$java_pom" -Pdist -Dmaven.antrun.skip=true -Dtest=NodeOptionsTest \
        -Dsurefire.failIfNoSpecifiedTests=false dependency:go-offline package clean >/dev/null; then
      touch "$java_marker"
    else
      log "could not pre-fetch Maven dependencies (the Java suite will try again online)"
    fi
  fi
fi
