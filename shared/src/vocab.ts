/** A class the model predicts: an ImageNet WordNet id plus the human label shown to users. */
export interface ClassLabel {
  wnid: string;
  label: string;
}

/** Imagenette's 10 classes in the order of their sorted wnids (the order the trainer's folder reader uses). */
export const IMAGENETTE_CLASSES: readonly ClassLabel[] = Object.freeze([
  { wnid: "n01440764", label: "tench" },
  { wnid: "n02102040", label: "English springer" },
  { wnid: "n02979186", label: "cassette player" },
  { wnid: "n03000684", label: "chain saw" },
  { wnid: "n03028079", label: "church" },
  { wnid: "n03394916", label: "French horn" },
  { wnid: "n03417042", label: "garbage truck" },
  { wnid: "n03425413", label: "gas pump" },
  { wnid: "n03445777", label: "golf ball" },
  { wnid: "n03888257", label: "parachute" },
]);

/** Look up a human label for a wnid; falls back to the wnid itself for classes outside the vocabulary. */
export function labelFor(wnid: string, classes: readonly ClassLabel[] = IMAGENETTE_CLASSES): string {
  return classes.find((c) => c.wnid === wnid)?.label ?? wnid;
}

/**
 * The rule for a class id: an ImageNet wnid ("n03888257") or a name given with feedback ("red_panda").
 * Letters, digits, '_' or '-', 1 to 64 characters, so it is safe as a manifest `wnid`, an R2 key segment
 * (`feedback/<class>/...`) and a folder name (`train/<class>/`).
 */
export const CLASS_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
export const CLASS_ID_RULE = "letters, digits, '_' or '-', 1 to 64 characters";

export function isValidClassId(id: string): boolean {
  return CLASS_ID_RE.test(id);
}

/** A valid class id close to `name` ("Red Panda!" -> "Red_Panda"), to suggest in error messages; "" if none. */
export function suggestClassId(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^A-Za-z0-9_-]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 64);
}
