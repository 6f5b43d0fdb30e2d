// Placeholder: replaced by the real daemon setup.
export default function setup (): void {}
