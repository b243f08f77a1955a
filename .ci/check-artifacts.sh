#!/usr/bin/env bash
# Checks that a build (`mvn -B -ntp -P release verify`) produced what Maven Central requires of
# every published module: the jar, -sources.jar and -javadoc.jar (jar modules), and a POM with
# name, description, url, licenses, developers and scm (the effective POM, inherited values
# included; the BOM has no parent and carries its own). Signatures (.asc) are checked only when
# signing ran (-Dgpg.skip=false or a key configured): pass --signed.
# Run from the repository root after the build. Exit status 1 if anything is missing.
set -u
signed=false
[ "${1:-}" = "--signed" ] && signed=true

version=$(sed -n 's|^  <version>\(.*\)</version>|\1|p' pom.xml | head -1)
# folder:artifactId:packaging of every module Central gets. examples/ and benchmarks/ are never
# published (maven.deploy.skip, excluded from the Central bundle).
modules="
.:sluice-parent:pom
bom:sluice-bom:pom
core:sluice-core:jar
jdbc-quota:sluice-jdbc-quota:jar
http-servlet:sluice-servlet:jar
testing:sluice-testing:jar
"
[ -d redis ] && modules="$modules redis:sluice-redis:jar"
[ -d spring-boot ] && modules="$modules spring-boot:sluice-spring-boot-starter:jar"
[ -d micrometer ] && modules="$modules micrometer:sluice-micrometer:jar"

fail=0
check_file() {
  if [ -s "$1" ]; then
    printf '  ok       %s (%s bytes)\n' "$1" "$(stat -c %s "$1")"
    if $signed; then
      if [ -s "$1.asc" ]; then printf '  ok       %s.asc\n' "$1"; else printf '  MISSING  %s.asc\n' "$1"; fail=1; fi
    fi
  else
    printf '  MISSING  %s\n' "$1"; fail=1
  fi
}

for entry in $modules; do
  IFS=: read -r dir artifact packaging <<<"$entry"
  echo "$artifact ($dir)"
  if [ "$packaging" = jar ]; then
    for classifier in "" -sources -javadoc; do
      check_file "$dir/target/$artifact-$version$classifier.jar"
    done
  fi
  # The effective POM is what a consumer's Maven sees after inheritance.
  effective=$(mktemp)
  if ! mvn -B -ntp -q -N -f "$dir/pom.xml" org.apache.maven.plugins:maven-help-plugin:3.5.1:effective-pom -Doutput="$effective" >/dev/null 2>&1; then
    echo "  FAILED   effective POM of $dir/pom.xml"; fail=1; continue
  fi
  for element in name description url licenses/license/name developers/developer/name \
      scm/url scm/connection; do
    value=$(python3 - "$effective" "$element" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = {'m': 'http://maven.apache.org/POM/4.0.0'}
root = ET.parse(sys.argv[1]).getroot()
path = '/'.join('m:' + p for p in sys.argv[2].split('/'))
node = root.find(path, ns)
print(' '.join((node.text or '').split()) if node is not None else '')
PY
)
    if [ -n "$value" ]; then
      printf '  ok       pom %-27s %s\n' "$element" "$value" | cut -c1-110
    else
      printf '  MISSING  pom %s\n' "$element"; fail=1
    fi
  done
  rm -f "$effective"
done

if [ "$fail" -ne 0 ]; then
  echo "Some artifacts or POM fields Central requires are missing."
  exit 1
fi
echo "Every published module has its jars and the POM metadata Central requires."
