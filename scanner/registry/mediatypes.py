"""Media types and annotation keys this package reads and writes (the list is in docs/promotion.md)."""

from __future__ import annotations

# OCI image spec
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
ACCEPT = ", ".join((*MANIFESTS, *INDEXES))

ANN_TITLE = "org.opencontainers.image.title"
ANN_CREATED = "org.opencontainers.image.created"
ANN_VERSION = "org.opencontainers.image.version"
ANN_LICENSES = "org.opencontainers.image.licenses"
ANN_SOURCE = "org.opencontainers.image.source"

# CNCF ModelPack (model-spec)
MODEL_MANIFEST_ARTIFACT = "application/vnd.cncf.model.manifest.v1+json"
MODEL_CONFIG = "application/vnd.cncf.model.config.v1+json"
MODEL_LAYER_PREFIX = "application/vnd.cncf.model."
MODEL_WEIGHT = "application/vnd.cncf.model.weight.v1.raw"
MODEL_WEIGHT_CONFIG = "application/vnd.cncf.model.weight.config.v1.raw"
MODEL_DOC = "application/vnd.cncf.model.doc.v1.raw"
MODEL_CODE = "application/vnd.cncf.model.code.v1.raw"
MODEL_DATASET = "application/vnd.cncf.model.dataset.v1.raw"
ANN_FILEPATH = "org.cncf.model.filepath"

# KitOps ModelKit: layers are tarballs (tar, tar+gzip, tar+zstd) of the packed paths
KITOPS_CONFIG = "application/vnd.kitops.modelkit.config.v1+json"
KITOPS_PREFIX = "application/vnd.kitops.modelkit."
# Docker Model Runner: one file per layer (GGUF, safetensors, licence, templates), some tarballs
DOCKER_AI_PREFIX = "application/vnd.docker.ai."

# Generic artifacts pushed by this tool
GENERIC_ARTIFACT = "application/vnd.scanner.artifact.v1"
GENERIC_FILE = "application/vnd.scanner.file.v1"
# A single file pushed with the files its reader reads with it (a requirements file's ``-r``
# includes): the file it was pushed as, judged as that file again after a pull
ANN_NAMED_FILE = "dev.scanner.named-file"

# Evidence attached as referrers
SIGSTORE_BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SIGSTORE_BUNDLE_ANY = "application/vnd.dev.sigstore.bundle"
IN_TOTO = "application/vnd.in-toto+json"
DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
CYCLONEDX = "application/vnd.cyclonedx+json"
EVIDENCE_RECORD = "application/vnd.scanner.evidence-record.v1+json"
ANN_PREDICATE = "in-toto.io/predicate-type"
ANN_STAGE = "dev.scanner.stage"
ANN_RESULT = "dev.scanner.verification-result"
ANN_ACTOR = "dev.scanner.promoted-by"
ANN_SIGNER = "dev.scanner.signer"
ANN_SOURCE_REF = "dev.scanner.source"
