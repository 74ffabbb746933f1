/// The version of the Letterbox package, stated once: `letterbox --version` and `serve`'s
/// start-up line read it, and `CHANGELOG.md` says what each version holds (its newest heading
/// names this one). Semantic Versioning: before 1.0.0, a minor version may change the API.
public enum PackageVersion {
    /// This package's version.
    public static let current = "0.1.0"
}
