import Foundation
import PonderCore
import PonderModels
import PonderTokenizers

extension Engine {
    /// The same model, tokenizer, end tokens and sampling defaults with another chat template (a Jinja source, as
    /// `--chat-template FILE` gives it; vLLM's option of the same name does the same). For models that ship none.
    /// - Throws: `TokenizerError.unknownChatTemplate` naming `origin` and the line when the template does not parse.
    public func replacingChatTemplate(_ source: String, origin: String, options: Engine.Options = Engine.Options()) throws -> Engine {
        let template: JinjaChatTemplate
        do {
            template = try JinjaChatTemplate(
                source: source, bosToken: tokenizer.specialTokenIDs.bos.map { tokenizer.decode([$0]) },
                eosToken: endTokens.min().map { tokenizer.decode([$0]) })
        } catch {
            throw TokenizerError.unknownChatTemplate(reason: "\(origin): the chat template does not parse: \(error)")
        }
        return Engine(
            model: model, tokenizer: tokenizer, template: .jinja(template), name: name, extraEndTokens: Array(endTokens),
            generationDefaults: generationDefaults, options: options)
    }
}
