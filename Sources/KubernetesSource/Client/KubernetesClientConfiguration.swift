import Foundation
import NIOSSL
import Yams

/// Where the API server is and how to prove who we are to it.
///
/// Two sources, as in client-go: the in-cluster service account (a pod's token, CA and an
/// explicitly given server address) and a kubeconfig file. The server address is never taken
/// from `KUBERNETES_SERVICE_HOST`: that is the `kubernetes` service's VIP, which nfq-lb itself
/// serves, so it cannot be used to learn the services in the first place.
///
/// TLS is always verified: against the configured CA when there is one, otherwise against the
/// system's trust roots. There is deliberately no insecure option.
public struct KubernetesClientConfiguration: Sendable {
    /// How each request is authenticated.
    public enum Credentials: Sendable, Equatable {
        case none
        /// A fixed bearer token (kubeconfig `token`).
        case token(String)
        /// A bearer token read from this file for every request, so a token the kubelet
        /// rotates (projected service-account tokens expire after an hour) is used at once.
        case tokenFile(String)
        /// A TLS client certificate and key, PEM.
        case clientCertificate(certificatePEM: [UInt8], keyPEM: [UInt8])
    }

    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// `https://host:port`, without a trailing slash.
    public var server: String
    /// PEM bundle of the CA that signed the server's certificate; nil means the system roots.
    public var certificateAuthorityPEM: [UInt8]?
    public var credentials: Credentials

    public init(server: String, certificateAuthorityPEM: [UInt8]?, credentials: Credentials) throws {
        var server = server
        while server.hasSuffix("/") { server.removeLast() }
        guard let url = URL(string: server), url.scheme == "https", url.host != nil else {
            throw Error("the API server address must be an https:// URL (TLS is always verified), got \(server)")
        }
        self.server = server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.credentials = credentials
    }

    /// The directory the kubelet mounts a pod's service account into (`token`, `ca.crt`).
    public static let inClusterServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// Inside a pod: the service account's token (re-read on every request) and CA, and the
    /// API server's real address, given by the operator.
    public static func inCluster(
        server: String, serviceAccountDirectory: String = inClusterServiceAccountDirectory
    ) throws -> KubernetesClientConfiguration {
        let tokenPath = serviceAccountDirectory + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw Error("no service account token at \(tokenPath): not in a pod, or automountServiceAccountToken is false; use a kubeconfig outside a pod")
        }
        let ca = try readFile(serviceAccountDirectory + "/ca.crt", what: "the service account's CA")
        return try KubernetesClientConfiguration(server: server, certificateAuthorityPEM: ca, credentials: .tokenFile(tokenPath))
    }

    /// From a kubeconfig file: its `current-context` (or `context`), that context's cluster
    /// (`server`, `certificate-authority` or `-data`) and user (`token`, `tokenFile`,
    /// `client-certificate`/`-key` or their `-data`). Relative file paths in it are relative to
    /// the kubeconfig's own directory, as kubectl reads them. `server` overrides its address.
    public static func kubeconfig(
        path: String, context: String? = nil, server overrideServer: String? = nil
    ) throws -> KubernetesClientConfiguration {
        let text = String(decoding: try readFile(path, what: "the kubeconfig"), as: UTF8.self)
        let file: Kubeconfig
        do {
            file = try YAMLDecoder().decode(Kubeconfig.self, from: text)
        } catch {
            throw Error("kubeconfig \(path) did not parse: \(error)")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        func resolve(_ file: String) -> String { file.hasPrefix("/") ? file : base + "/" + file }

        guard let contextName = context ?? file.currentContext, !contextName.isEmpty else {
            throw Error("kubeconfig \(path) has no current-context; name one")
        }
        guard let selected = file.contexts?.first(where: { $0.name == contextName })?.context else {
            throw Error("kubeconfig \(path) has no context named \(contextName)")
        }
        guard let cluster = file.clusters?.first(where: { $0.name == selected.cluster })?.cluster else {
            throw Error("kubeconfig \(path): context \(contextName) names cluster \(selected.cluster ?? "(none)"), which it does not define")
        }
        guard let server = overrideServer ?? cluster.server else {
            throw Error("kubeconfig \(path): cluster \(selected.cluster ?? "") has no server")
        }
        if cluster.insecureSkipTLSVerify == true {
            throw Error("kubeconfig \(path): insecure-skip-tls-verify is refused; give the cluster's certificate-authority")
        }
        var ca: [UInt8]?
        if let data = cluster.certificateAuthorityData {
            ca = try decodeBase64(data, field: "certificate-authority-data", path: path)
        } else if let file = cluster.certificateAuthority {
            ca = try readFile(resolve(file), what: "the kubeconfig's certificate-authority")
        }

        var credentials = Credentials.none
        if let userName = selected.user {
            guard let user = file.users?.first(where: { $0.name == userName })?.user else {
                throw Error("kubeconfig \(path): context \(contextName) names user \(userName), which it does not define")
            }
            if let token = user.token, !token.isEmpty {
                credentials = .token(token)
            } else if let tokenFile = user.tokenFile, !tokenFile.isEmpty {
                credentials = .tokenFile(resolve(tokenFile))
            } else if user.clientCertificate != nil || user.clientCertificateData != nil {
                let certificate = try user.clientCertificateData.map { try decodeBase64($0, field: "client-certificate-data", path: path) }
                    ?? readFile(resolve(user.clientCertificate!), what: "the kubeconfig's client-certificate")
                let key: [UInt8]
                if let data = user.clientKeyData {
                    key = try decodeBase64(data, field: "client-key-data", path: path)
                } else if let keyFile = user.clientKey {
                    key = try readFile(resolve(keyFile), what: "the kubeconfig's client-key")
                } else {
                    throw Error("kubeconfig \(path): user \(userName) has a client certificate but no client-key")
                }
                credentials = .clientCertificate(certificatePEM: certificate, keyPEM: key)
            } else if user.exec != nil || user.authProvider != nil {
                throw Error("kubeconfig \(path): user \(userName) uses an exec or auth-provider plugin, which nfq-lb does not run; give a token, tokenFile or client certificate")
            }
        }
        return try KubernetesClientConfiguration(server: server, certificateAuthorityPEM: ca, credentials: credentials)
    }

    /// The TLS configuration of the client: full verification, the CA as the only trust root
    /// when one is given, the client certificate when that is the credential.
    public func makeTLSConfiguration() throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .fullVerification
        do {
            if let ca = certificateAuthorityPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            }
            if case .clientCertificate(let certificate, let key) = credentials {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw Error("the TLS material of \(server) did not load: \(error)")
        }
        return tls
    }

    /// The `Authorization` header value for the next request; a token file is read each time.
    public func authorizationHeader() throws -> String? {
        switch credentials {
        case .none, .clientCertificate: return nil
        case .token(let token): return "Bearer " + token
        case .tokenFile(let path):
            let token = String(decoding: try Self.readFile(path, what: "the bearer token file"), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw Error("the bearer token file \(path) is empty") }
            return "Bearer " + token
        }
    }

    static func readFile(_ path: String, what: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Error("cannot read \(what) at \(path)")
        }
        return [UInt8](data)
    }

    private static func decodeBase64(_ text: String, field: String, path: String) throws -> [UInt8] {
        guard let data = Data(base64Encoded: text.filter { !$0.isWhitespace }) else {
            throw Error("kubeconfig \(path): \(field) is not base64")
        }
        return [UInt8](data)
    }
}

/// The fields of a kubeconfig (`clientcmd/api/v1 Config`) that nfq-lb reads.
struct Kubeconfig: Decodable {
    struct NamedCluster: Decodable { var name: String; var cluster: Cluster? }
    struct Cluster: Decodable {
        var server: String?
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?
        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        }
    }
    struct NamedUser: Decodable { var name: String; var user: User? }
    struct User: Decodable {
        var token: String?
        var tokenFile: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var exec: Present?
        var authProvider: Present?
        enum CodingKeys: String, CodingKey {
            case token, tokenFile, exec
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case authProvider = "auth-provider"
        }
    }
    /// A field whose presence matters, whatever it holds.
    struct Present: Decodable { init(from decoder: any Decoder) throws {} }
    struct NamedContext: Decodable { var name: String; var context: Context? }
    struct Context: Decodable { var cluster: String?; var user: String?; var namespace: String? }

    var clusters: [NamedCluster]?
    var users: [NamedUser]?
    var contexts: [NamedContext]?
    var currentContext: String?
    enum CodingKeys: String, CodingKey {
        case clusters, users, contexts
        case currentContext = "current-context"
    }
}
