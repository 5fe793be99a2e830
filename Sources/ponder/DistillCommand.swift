import ArgumentParser
import Foundation
import PonderCore
import PonderModels
import PonderTasks
import PonderTokenizers
import PonderTraining

struct Distill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distill",
        abstract: "Distil a teacher into a student: verified teacher traces → student SFT (R1-Distill), or on-policy GKD (--on-policy).",
        discussion: """
            Both modes first sample the teacher on the problems and keep its verified traces (RUN/teacher_traces.jsonl, \
            resumable like `ponder sample`). Sequence-level: the student is fine-tuned on them (RUN/student). \
            --on-policy: TRL's GKD on those prompts (--lmbda of the steps on the student's own samples, the rest on the \
            teacher's traces), the loss the generalized JSD (--beta) between student and teacher token distributions; \
            teacher and student must share a tokenizer. \
            The teacher of sequence-level distillation may sit behind any OpenAI-compatible server (--endpoint URL \
            --api-model NAME instead of --teacher): its traces are sampled there, graded and kept here, and the student \
            is trained here. --on-policy needs a local --teacher: GKD's loss needs the teacher's whole next-token \
            distribution at every position of the student's samples, which an OpenAI-compatible API does not return.
            """)

    @Option(name: .long, help: "Teacher model directory (or --endpoint URL --api-model NAME for a teacher behind a server).")
    var teacher: String?
    @OptionGroup(title: "Teacher behind an endpoint (sequence-level only)") var teacherEndpoint: EndpointOptions
    @Option(name: .long, help: "Student model directory (fine-tuned; the directory itself is never written).") var student: String
    @OptionGroup var problems: ProblemOptions
    @OptionGroup var keep: KeepOptions
    @Flag(name: .long, help: "Token-level on-policy distillation (GKD) instead of SFT on the traces.") var onPolicy = false
    @OptionGroup var options: RunOptions
    @OptionGroup var config: GKDTrainer.Configuration

    /// Why token-level distillation cannot use a teacher behind an OpenAI-compatible endpoint.
    static let onPolicyNeedsLocalTeacher = """
        --on-policy (token-level GKD) cannot use a teacher behind --endpoint: its loss, the generalized Jensen-Shannon \
        divergence, needs the teacher's full next-token distribution over the shared vocabulary at every position of \
        the student's samples, and an OpenAI-compatible API returns at most the top 20 log-probabilities of a position \
        (top_logprobs), which leaves the rest of the distribution unknown. Give a local --teacher DIR for --on-policy, \
        or drop --on-policy to distil the endpoint's verified traces into the student (sequence-level).
        """

    func validate() throws {
        switch (teacher, teacherEndpoint.endpoint) {
        case (nil, nil): throw ValidationError("give the teacher: --teacher DIR, or --endpoint URL --api-model NAME")
        case (_?, _?): throw ValidationError("give either --teacher DIR or --endpoint URL, not both")
        case (nil, _?) where onPolicy: throw ValidationError(Self.onPolicyNeedsLocalTeacher)
        default: break
        }
    }

    func run() async throws {
        if options.printedConfiguration(config.resolved) { return }
        let run = try options.directory
        let studentDir = URL(fileURLWithPath: student)
        let dtype = config.training.dtype.dtype
        // The teacher: a local model (any mode), or a server (sequence-level; `validate` refuses it with --on-policy).
        let teacherSampler: any LanguageModel
        var localTeacher: (model: CausalLM, engine: Engine)?
        if let remote = try teacherEndpoint.remoteModel() {
            teacherSampler = remote
        } else {
            let teacherDir = URL(fileURLWithPath: teacher!)
            if onPolicy { try requireSameTokenizer(model: studentDir, other: teacherDir, role: "teacher") }
            let model = try ModelDirectory.load(teacherDir, dtype: dtype)
            let engine = try Engine(model: model, directory: teacherDir, chat: self.problems.chat, name: "teacher")
            localTeacher = (model, engine)
            teacherSampler = engine
        }
        let (task, problems) = try await self.problems.load()
        let traces = run.url.appendingPathComponent("teacher_traces.jsonl")
        let (_, stats) = try await keep.sampler(
            model: teacherSampler, task: task, seed: config.training.seed, temperature: config.temperature
        ).run(
            problems: problems, output: traces, onProblem: samplingProgress("teacher"))
        FileHandle.standardError.write(Data("teacher: \(describe(stats))\n".utf8))
        guard stats.kept > 0 else {
            throw ValidationError("the teacher solved none of the \(problems.count) problems; there are no verified traces to distil")
        }
        let examples = try JSONLines.read(traces).map { o in
            let prompt = o["prompt"] as! String
            return SFTExample(prompt: self.problems.chat ? .chat([.user(prompt)]) : .text(prompt), completion: o["completion"] as! String)
        }
        let tokenizer = try Tokenizer.load(directory: studentDir)
        let network = try ModelDirectory.load(studentDir, dtype: dtype)
        guard let end = tokenizer.specialTokenIDs.eos.first ?? network.configuration.eosTokenIds.first else {
            throw ValidationError("\(student): no end-of-sequence token is configured")
        }
        let template = self.problems.chat ? try PromptTemplate.detect(directory: studentDir) : nil
        let studentRun = try RunDirectory(run.url.appendingPathComponent("student"))
        network.adapters?.baseModel = studentDir.path
        let last: Int
        if onPolicy {
            guard let localTeacher else { throw ValidationError(Self.onPolicyNeedsLocalTeacher) }
            let sampler = try Engine(model: network, directory: studentDir, chat: self.problems.chat, name: "student")
            let trainer = try GKDTrainer(
                configuration: config, student: network, teacher: localTeacher.model, studentSampler: sampler,
                teacherSampler: localTeacher.engine,
                tokenizer: tokenizer, template: template, examples: examples, endToken: end)
            let bar = ProgressBar(keys: ["loss", "on_policy", "completions/mean_length"], every: 5)
            last = try await trainer.train(
                run: studentRun, resume: options.resume, tokenizerFiles: tokenizerFiles(studentDir), interrupt: InterruptFlag.onSignals(),
                onStep: bar.update)
        } else {
            // Sequence-level: plain SFT on the verified traces, with the shared training knobs (SFT's optimizer defaults).
            var sft = SFTTrainer.Configuration.defaults
            sft.training = config.training
            sft.lora = config.lora
            sft.batchSize = config.batchSize
            sft.maxLength = config.maxLength
            let trainer = try SFTTrainer(
                configuration: sft, model: network, tokenizer: tokenizer, template: template, examples: examples, endToken: end)
            let bar = ProgressBar(keys: ["loss", "grad_norm", "learning_rate"], every: 10)
            last = try await trainer.train(
                run: studentRun, resume: options.resume, tokenizerFiles: tokenizerFiles(studentDir), interrupt: InterruptFlag.onSignals(),
                onStep: bar.update)
        }
        FileHandle.standardError.write(Data("stopped at step \(last); student checkpoints in \(studentRun.checkpointsURL.path)\n".utf8))
    }
}
