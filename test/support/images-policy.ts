/** The policy of the image and resource tests (issue 10): a team with images, caps and a quota, one with requireDigest, one without rules, one in audit mode. */
export const IMAGES_POLICY = `version: 1
identities:
  - match: { ou: ci }
    teams: [ci]
  - match: { ou: pin }
    teams: [pin]
  - match: { ou: both }
    teams: [ci, open]
  - match: { ou: dry }
    teams: [dry]
  - match: { ou: open }
    teams: [open]
teams:
  ci:
    ownership: true
    allow: ["* /**"]
    containers:
      images: ["registry.example.com/ci/**", "alpine:3.*", "docker.io/library/busybox"]
      resources: { memory: 2g, cpus: 2, pids: 1024 }
    quota: { containers: 20, memory: 16g }
  pin:
    allow: ["* /**"]
    containers:
      requireDigest: true
  open:
    allow: ["* /**"]
  dry:
    mode: audit
    allow: ["* /**"]
    containers:
      images: ["alpine:3.*"]
`
