"""Supply chain: what npm packages a version ships (a CycloneDX SBOM kept with the version) and which
known advisories (an OSV feed the operator imports offline) affect them."""
